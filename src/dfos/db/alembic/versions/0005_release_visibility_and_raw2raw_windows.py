"""Replacing a release (docs/releases.md): catalog entries a release hides, and raw2raw windows.

Revision 0005, after 0004; adds ``archive_catalog.hidden_by`` / ``hidden_at`` (NULL: visible) and the table
``release_windows``, each only when absent (see 0001).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    columns = {c["name"] for c in inspector.get_columns("archive_catalog")}
    if "hidden_by" not in columns:
        op.add_column("archive_catalog", sa.Column("hidden_by", sa.String(64), nullable=True))
        op.create_index(op.f("ix_archive_catalog_hidden_by"), "archive_catalog", ["hidden_by"])
    if "hidden_at" not in columns:
        op.add_column("archive_catalog", sa.Column("hidden_at", sa.String(32), nullable=True))
    if not inspector.has_table("release_windows"):
        op.create_table(
            "release_windows",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("release", sa.String(64), nullable=False),
            sa.Column("first", sa.String(10), nullable=False),
            sa.Column("last", sa.String(10), nullable=False),
            sa.Column("opened", sa.String(32), nullable=False),
            sa.Column("lifted", sa.String(32), nullable=True),
        )


def downgrade() -> None:
    op.drop_table("release_windows")
    with op.batch_alter_table("archive_catalog") as batch:
        batch.drop_index("ix_archive_catalog_hidden_by")
        batch.drop_column("hidden_at")
        batch.drop_column("hidden_by")
