"""The embedded archive's catalog of ingested files.

Revision 0003, after 0002; creates its table only when absent (see 0001).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("archive_catalog"):
        return
    op.create_table(
        "archive_catalog",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("date", sa.String(10), nullable=False, index=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("ab", sa.String(255), nullable=False),
        sa.Column("pro_catg", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("ingested", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("archive_catalog")
