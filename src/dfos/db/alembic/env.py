"""Alembic's environment for the workspace database: always online, on the connection dfos hands over.

:func:`dfos.db.migrations.migrate` opens the connection, takes the database's write lock and passes
the connection in ``config.attributes["connection"]``; the revisions run inside that transaction
(Alembic sees it is already begun and neither begins nor commits), so the lock holds until the
database is at the newest revision.  There is no offline (``--sql``) mode and no ``alembic.ini``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from dfos.db.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("dfos migrations run through dfos.db.migrations.migrate, which passes a connection")
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
