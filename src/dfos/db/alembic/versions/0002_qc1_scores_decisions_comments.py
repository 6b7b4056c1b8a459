"""QC1 parameters, AB scores, certification decisions, comments.

Revision 0002, after 0001; creates its tables only when absent (see 0001).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _absent(table: str) -> bool:
    return not sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if _absent("qc1_params"):
        op.create_table(
            "qc1_params",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("ab", sa.String(255), nullable=False),
            sa.Column("batch_id", sa.String(64), nullable=False),
            sa.Column("date", sa.String(10), nullable=False),
            sa.Column("instrument", sa.String(32), nullable=False),
            sa.Column("raw_type", sa.String(64), nullable=False),
            sa.Column("pro_catg", sa.String(64), nullable=False),
            sa.Column("product", sa.String(255), nullable=False),
            sa.Column("setup", sa.String(255), nullable=False),
            sa.Column("mjd_obs", sa.Float, nullable=False),
            sa.Column("name", sa.String(128), nullable=False),
            sa.Column("value", sa.Float),
            sa.Column("text", sa.String(255)),
            sa.Column("unit", sa.String(32), nullable=False),
            sa.Column("description", sa.Text, nullable=False),
            sa.Column("source", sa.String(64), nullable=False),
            sa.Column("score", sa.Integer),
            sa.Column("low", sa.Float),
            sa.Column("high", sa.Float),
            sa.Column("method", sa.String(16)),
            sa.Column("updated", sa.String(32), nullable=False),
            sa.UniqueConstraint("ab", "product", "name", name="uq_qc1_params_ab_product_name"),
            sa.Index("ix_qc1_params_name_setup", "name", "setup"),
            sa.Index("ix_qc1_params_date", "date"),
            sa.Index("ix_qc1_params_ab", "ab"),
        )
    if _absent("ab_qc"):
        op.create_table(
            "ab_qc",
            sa.Column("ab", sa.String(255), primary_key=True),
            sa.Column("batch_id", sa.String(64), nullable=False),
            sa.Column("date", sa.String(10), nullable=False, index=True),
            sa.Column("instrument", sa.String(32), nullable=False),
            sa.Column("raw_type", sa.String(64), nullable=False),
            sa.Column("n_params", sa.Integer, nullable=False),
            sa.Column("n_scored", sa.Integer, nullable=False),
            sa.Column("n_red", sa.Integer, nullable=False),
            sa.Column("verdict", sa.String(8), nullable=False),
            sa.Column("plots", sa.Text, nullable=False),
            sa.Column("updated", sa.String(32), nullable=False),
        )
    if _absent("certifications"):
        op.create_table(
            "certifications",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("ab", sa.String(255), nullable=False, index=True),
            sa.Column("decision", sa.String(16), nullable=False),
            sa.Column("by", sa.String(64), nullable=False),
            sa.Column("at", sa.String(32), nullable=False),
            sa.Column("comment", sa.Text, nullable=False),
        )
    if _absent("comments"):
        op.create_table(
            "comments",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("scope", sa.String(16), nullable=False),
            sa.Column("subject", sa.String(255), nullable=False, index=True),
            sa.Column("text", sa.Text, nullable=False),
            sa.Column("author", sa.String(64), nullable=False),
            sa.Column("at", sa.String(32), nullable=False),
        )


def downgrade() -> None:
    for table in ("comments", "certifications", "ab_qc", "qc1_params"):
        op.drop_table(table)
