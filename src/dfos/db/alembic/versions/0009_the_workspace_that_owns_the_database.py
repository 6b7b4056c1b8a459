"""The workspace that owns the database (issue 19, no hidden sharing): ``workspace_owner``, one row naming the
root, a random workspace id, the host and when it was claimed (:mod:`dfos.steps.sharing`).

Revision 0009, after 0008.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workspace_owner",
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("root", sa.String(length=1024), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("claimed", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("slot"),
    )


def downgrade() -> None:
    op.drop_table("workspace_owner")
