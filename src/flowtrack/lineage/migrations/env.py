"""Alembic environment for flowtrack's metadata schema (online migrations only)."""

from alembic import context
from sqlalchemy import create_engine, pool

from flowtrack.lineage._db import lock_schema
from flowtrack.lineage._schema import created_on, metadata

config = context.config
url = config.get_main_option("sqlalchemy.url") or ""
connectable = create_engine(url, poolclass=pool.NullPool)
with connectable.connect() as connection:
    dialect = connection.dialect.name
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=dialect == "sqlite",
                      include_object=lambda item, *_: created_on(item, dialect))
    with context.begin_transaction():
        lock_schema(connection)
        context.run_migrations()
