"""Foundation: raw, core, ops and analyst schemas; submarine cables."""

from dsrwatch.warehouse.schema import no_downgrade, sql_file_upgrade

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

upgrade = sql_file_upgrade("0001_foundation.sql")
downgrade = no_downgrade
