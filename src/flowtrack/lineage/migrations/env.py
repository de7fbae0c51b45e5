"""Alembic environment for flowtrack's metadata schema (online migrations only)."""

from alembic import context
from sqlalchemy import create_engine, pool

from flowtrack.lineage._schema import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url") or ""
connectable = create_engine(url, poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
