"""Alembic environment: migrations run SQL files from sql/migrations under an advisory lock.

The caller (dsrwatch.warehouse.schema) hands over an open SQLAlchemy connection.
"""

from alembic import context
from sqlalchemy import text

from dsrwatch import config

# Two tasks starting at once must not migrate concurrently.
MIGRATION_LOCK_KEY = 0x445352  # "DSR"

connection = context.config.attributes["connection"]
# A wait for the lock is bounded (DSR_LOCK_TIMEOUT): a stuck session fails the task, it does not hang it.
connection.execute(text("SELECT set_config('lock_timeout', :ms, false)"),
                   {"ms": f"{int(config.lock_timeout_seconds() * 1000)}ms"})
connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
try:
    context.configure(connection=connection, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
finally:
    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
    connection.commit()
