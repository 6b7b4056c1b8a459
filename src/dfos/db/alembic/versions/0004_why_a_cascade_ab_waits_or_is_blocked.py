"""Why an AB of a cascade waits or is blocked: ``cascade_nodes.reason``.

Revision 0004, after 0003; adds the column only when absent (see 0001).  A cascade writes it for an AB
that waits for ABs of other cascades (``waiting for calibration ... of CALIB_2013-02-12``) and for an AB
it blocks (``its calibration ... failed in cascade CALIB_2013-02-12: ...``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("cascade_nodes")}
    if "reason" not in columns:
        op.add_column("cascade_nodes", sa.Column("reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cascade_nodes") as batch:
        batch.drop_column("reason")
