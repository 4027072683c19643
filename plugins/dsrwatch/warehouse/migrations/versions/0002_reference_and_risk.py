"""Reference data (PRC-linked organisations, country groups, regimes) and the risk engine."""

from dsrwatch.warehouse.schema import no_downgrade, sql_file_upgrade

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

upgrade = sql_file_upgrade("0002_reference_and_risk.sql")
downgrade = no_downgrade
