"""Content keys: the products of each successful run of a content key (``content_runs``), and the AB a run
reused its products from (``ab_runs.reused_from``).

Revision 0006, after 0005; adds the table and the column only when absent (see 0001).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "reused_from" not in {c["name"] for c in inspector.get_columns("ab_runs")}:
        op.add_column("ab_runs", sa.Column("reused_from", sa.String(255), nullable=True))
    if inspector.has_table("content_runs"):
        return
    op.create_table(
        "content_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("content_key", sa.String(64), nullable=False, index=True),
        sa.Column("ab", sa.String(255), nullable=False, index=True),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("products", sa.Text, nullable=False),
        sa.Column("log", sa.String(1024), nullable=False),
        sa.Column("reused_from", sa.String(255), nullable=True),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("superseded", sa.String(32), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("content_runs")
    with op.batch_alter_table("ab_runs") as batch:
        batch.drop_column("reused_from")
