"""Alembic environment: migrations run SQL files from sql/migrations under an advisory lock.

The caller (dsrwatch.warehouse.schema) hands over an open SQLAlchemy connection.
"""

from alembic import context
from sqlalchemy import text

# Two tasks starting at once must not migrate concurrently.
MIGRATION_LOCK_KEY = 0x445352  # "DSR"

connection = context.config.attributes["connection"]
connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
try:
    context.configure(connection=connection, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
finally:
    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
    connection.commit()
