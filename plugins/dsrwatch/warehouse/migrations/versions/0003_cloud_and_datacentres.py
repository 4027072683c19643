"""Cloud regions, PeeringDB facilities and organisations, government customers of hosting."""

from dsrwatch.warehouse.schema import no_downgrade, sql_file_upgrade

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

upgrade = sql_file_upgrade("0003_cloud_and_datacentres.sql")
downgrade = no_downgrade
