"""Indexes for the phoenixMonitor's aggregates over a whole campaign (100,000 ABs): node states per cascade,
QC verdicts per batch, the ABs ever rejected, the runs that reused products (docs/monitor.md).

Revision 0007, after 0006; creates each index only when absent.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_cascade_nodes_dag_id_state", "cascade_nodes", ["dag_id", "state"]),
    ("ix_ab_qc_batch_id_verdict", "ab_qc", ["batch_id", "verdict"]),
    ("ix_certifications_decision_ab", "certifications", ["decision", "ab"]),
    ("ix_ab_runs_reused_from", "ab_runs", ["reused_from"]),
)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for name, table, columns in INDEXES:
        if name not in {index["name"] for index in inspector.get_indexes(table)}:
            op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
