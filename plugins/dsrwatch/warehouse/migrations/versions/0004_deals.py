"""Deals (AidData GCDF, World Bank contract awards), their parties and components; news leads."""

from dsrwatch.warehouse.schema import no_downgrade, sql_file_upgrade

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

upgrade = sql_file_upgrade("0004_deals.sql")
downgrade = no_downgrade
