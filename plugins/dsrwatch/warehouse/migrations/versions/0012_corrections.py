"""core.corrections: reviewed corrections applied over source data."""

from dsrwatch.warehouse.schema import no_downgrade, sql_file_upgrade

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

upgrade = sql_file_upgrade("0012_corrections.sql")
downgrade = no_downgrade
