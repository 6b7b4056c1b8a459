"""The tables of the workspace database (the shape of the newest revision).

Every table here is created by an Alembic revision (:mod:`dfos.db.migrations`); a test builds a
database from the revisions and compares it with these definitions (Alembic's own comparison), so
a change here without a revision fails the suite.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = ["ab_qc", "ab_runs", "archive_catalog", "cascade_nodes", "certifications", "comments", "content_runs",
           "metadata", "qc1_params", "release_windows", "workspace_owner"]

metadata = MetaData()

#: One row per recipe run (processAB attempt).
ab_runs = Table(
    "ab_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ab", String(255), nullable=False, index=True),
    Column("batch_id", String(64), nullable=False, index=True),
    Column("recipe", String(128), nullable=False),
    Column("started", String(32), nullable=False),
    Column("ended", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # SUCCESSFUL | FAILED
    Column("failure", String(32)),  # missing_input | recipe_error | crash | timeout | infrastructure
    Column("exit_code", Integer),
    Column("signal", Integer),
    Column("message", Text),
    Column("wall_s", Float),
    Column("max_rss_kb", Integer),
    Column("log", String(1024)),
    Column("host", String(128)),
    Column("dag_id", String(128), index=True),  # set when an executor ran it
    Column("attempt", Integer),
    Column("reused_from", String(255)),  # the AB whose products were reused (no recipe ran); NULL: it ran
    Index("ix_ab_runs_reused_from", "reused_from"),
)

#: The products of each successful run of a content key (an AB's CONTENT_KEY), which an AB of the same
#: key reuses instead of running (dfos.steps.reuse).
content_runs = Table(
    "content_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("content_key", String(64), nullable=False, index=True),
    Column("ab", String(255), nullable=False, index=True),
    Column("batch_id", String(64), nullable=False),
    Column("products", Text, nullable=False),  # JSON: [{"suffix", "path", "sha256", "size"}, ...]
    Column("log", String(1024), nullable=False, default=""),  # the recipe log of the run, as LOG_NAME's path
    Column("reused_from", String(255)),  # the products were themselves reused from this AB
    Column("created", String(32), nullable=False),
    Column("superseded", String(32)),  # when createAB superseded the AB's run: never reused after
)

#: The state of each AB of a cascade run by an executor (dag_id = e.g. CALIB_2013-02-12).
cascade_nodes = Table(
    "cascade_nodes",
    metadata,
    Column("dag_id", String(128), nullable=False),
    Column("ab", String(255), nullable=False),
    Column("state", String(16), nullable=False),  # waiting | running | succeeded | failed | blocked | incomplete
    Column("attempts", Integer, nullable=False, default=0),
    Column("exit_code", Integer),
    Column("wall_s", Float),
    Column("pid", Integer),
    Column("backend_id", String(128)),
    Column("updated", String(32)),
    Column("reason", Text),  # why it waits (for ABs of other cascades) or is blocked
    PrimaryKeyConstraint("dag_id", "ab"),
    Index("ix_cascade_nodes_dag_id_state", "dag_id", "state"),  # the phoenixMonitor's counts per cascade
)

#: QC1 parameters: one row per AB, product and parameter, with its score.
qc1_params = Table(
    "qc1_params",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ab", String(255), nullable=False),
    Column("batch_id", String(64), nullable=False),
    Column("date", String(64), nullable=False),  # DFO date (or pseudo-date: a run ID) of the AB
    Column("instrument", String(32), nullable=False),
    Column("raw_type", String(64), nullable=False),
    Column("pro_catg", String(64), nullable=False),
    Column("product", String(255), nullable=False),  # file name in $DFS_PRODUCT/<RAW_TYPE>/<DATE>
    Column("setup", String(255), nullable=False),  # the instrument's setup string of the product
    Column("mjd_obs", Float, nullable=False),
    Column("name", String(128), nullable=False),  # e.g. "QC OUT1 RON MASTER"
    Column("value", Float),  # numeric value; NULL for a text parameter
    Column("text", String(255)),  # the value as written
    Column("unit", String(32), nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    Column("source", String(64), nullable=False),  # header | paf | procedure:<name>
    Column("score", Integer),  # 0 green, 1 red, NULL grey (not scored)
    Column("low", Float),
    Column("high", Float),
    Column("method", String(16)),  # fixed | stat
    Column("updated", String(32), nullable=False),
    UniqueConstraint("ab", "product", "name", name="uq_qc1_params_ab_product_name"),
    Index("ix_qc1_params_name_setup", "name", "setup"),
    Index("ix_qc1_params_date", "date"),
    Index("ix_qc1_params_ab", "ab"),
)

#: Per AB: the QC summary (the AB score) and its verdict for certification.
ab_qc = Table(
    "ab_qc",
    metadata,
    Column("ab", String(255), primary_key=True),
    Column("batch_id", String(64), nullable=False),
    Column("date", String(64), nullable=False, index=True),  # DFO date or pseudo-date (a run ID)
    Column("instrument", String(32), nullable=False),
    Column("raw_type", String(64), nullable=False),
    Column("n_params", Integer, nullable=False),
    Column("n_scored", Integer, nullable=False),
    Column("n_red", Integer, nullable=False),
    Column("verdict", String(8), nullable=False),  # green (all scored green) | red | grey (nothing scored)
    Column("plots", Text, nullable=False, default=""),  # QC plots, one path per line
    Column("updated", String(32), nullable=False),
    Index("ix_ab_qc_batch_id_verdict", "batch_id", "verdict"),
)

#: Certification decisions, newest last (the latest row of an AB stands); ``by`` is a person or ``auto``.
certifications = Table(
    "certifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ab", String(255), nullable=False, index=True),
    Column("decision", String(16), nullable=False),  # certified | rejected | pending
    Column("by", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Index("ix_certifications_decision_ab", "decision", "ab"),  # the ABs ever rejected (standing rejections)
)

#: Comments of QC scientists on an AB, a product or a date.
comments = Table(
    "comments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", String(16), nullable=False),  # ab | product | date
    Column("subject", String(255), nullable=False, index=True),
    Column("text", Text, nullable=False),
    Column("author", String(64), nullable=False),
    Column("at", String(32), nullable=False),
)

#: What the embedded archive holds: one row per ingested file, with its checksum.
archive_catalog = Table(
    "archive_catalog",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),  # the file name (unique in the archive)
    Column("path", String(1024), nullable=False),  # where the archive keeps it
    Column("date", String(64), nullable=False, index=True),  # DFO date or pseudo-date (a run ID)
    Column("mode", String(16), nullable=False),  # CALIB | SCIENCE
    Column("ab", String(255), nullable=False),
    Column("pro_catg", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("source", String(1024), nullable=False),  # the file it was ingested from
    Column("ingested", String(32), nullable=False),
    Column("hidden_by", String(64), index=True),  # the release that hides it (NULL: visible); docs/releases.md
    Column("hidden_at", String(32)),
)

#: raw2raw windows of releases (docs/releases.md): createAB associates no certified master dated inside an
#: open window (``lifted`` NULL; at most one is open).
release_windows = Table(
    "release_windows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("release", String(64), nullable=False),  # "-" when opened without a release
    Column("first", String(10), nullable=False),
    Column("last", String(10), nullable=False),
    Column("opened", String(32), nullable=False),
    Column("lifted", String(32)),
)

#: Which workspace owns this database (issue 19, "no hidden sharing"): one row (``slot`` 1), written by the
#: first command that changes state.  A workspace whose database another existing workspace owns refuses to
#: change state (:mod:`dfos.steps.sharing`); a copied ``dfos.sqlite`` inside the copy's own root is re-claimed.
workspace_owner = Table(
    "workspace_owner",
    metadata,
    Column("slot", Integer, primary_key=True, autoincrement=False),  # always 1: one owner
    Column("workspace_id", String(64), nullable=False),  # a random id, new at each claim
    Column("root", String(1024), nullable=False),  # the owning workspace's root (resolved)
    Column("host", String(255), nullable=False),  # the host it was claimed on
    Column("claimed", String(32), nullable=False),  # when (ISO timestamp)
)
