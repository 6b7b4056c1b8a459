"""The date columns that hold a processing key take a run ID too: ``qc1_params.date``, ``ab_qc.date`` and
``archive_catalog.date`` were 10 characters (a DFO date); a DEEP run's pseudo-date (``090.C-0456A``, 11) and an
OPSHUB project are longer.  PostgreSQL refused their rows (SQLite never enforced the length).

Revision 0008, after 0007.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = (("qc1_params", "date"), ("ab_qc", "date"), ("archive_catalog", "date"))


def upgrade() -> None:
    for table, column in COLUMNS:  # (batch: SQLite copies the table, PostgreSQL alters the column)
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.String(64), existing_type=sa.String(10), existing_nullable=False)


def downgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.String(10), existing_type=sa.String(64), existing_nullable=False)
