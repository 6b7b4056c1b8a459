"""AB runs and cascade state.

Revision 0001, the first.  It, 0002 and 0003 replace the numbered migrations 1 to 3 of the runner
dfos had before Alembic, which created tables only when absent; they do the same, so that a database
of any dfos release (even one from before versioning, which may lack some of its tables) is taken in.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _absent(table: str) -> bool:
    return not sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if _absent("ab_runs"):
        op.create_table(
            "ab_runs",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("ab", sa.String(255), nullable=False, index=True),
            sa.Column("batch_id", sa.String(64), nullable=False, index=True),
            sa.Column("recipe", sa.String(128), nullable=False),
            sa.Column("started", sa.String(32), nullable=False),
            sa.Column("ended", sa.String(32), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("failure", sa.String(32)),
            sa.Column("exit_code", sa.Integer),
            sa.Column("signal", sa.Integer),
            sa.Column("message", sa.Text),
            sa.Column("wall_s", sa.Float),
            sa.Column("max_rss_kb", sa.Integer),
            sa.Column("log", sa.String(1024)),
            sa.Column("host", sa.String(128)),
            sa.Column("dag_id", sa.String(128), index=True),
            sa.Column("attempt", sa.Integer),
        )
    if _absent("cascade_nodes"):
        op.create_table(
            "cascade_nodes",
            sa.Column("dag_id", sa.String(128), nullable=False),
            sa.Column("ab", sa.String(255), nullable=False),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("exit_code", sa.Integer),
            sa.Column("wall_s", sa.Float),
            sa.Column("pid", sa.Integer),
            sa.Column("backend_id", sa.String(128)),
            sa.Column("updated", sa.String(32)),
            sa.PrimaryKeyConstraint("dag_id", "ab"),
        )


def downgrade() -> None:
    op.drop_table("cascade_nodes")
    op.drop_table("ab_runs")
