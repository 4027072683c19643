"""Named locks analysts cannot take (ops.locks), replacing advisory locks."""

from dsrwatch.warehouse.schema import no_downgrade, sql_file_upgrade

revision = "0008"
down_revision = "0005"  # a branch of its own beside 0006 and 0007; `upgrade heads` applies all
branch_labels = None
depends_on = None

upgrade = sql_file_upgrade("0008_locks.sql")
downgrade = no_downgrade
