"""The weekly alert email's delivery ledger (ops.alert_digests)."""

from dsrwatch.warehouse.schema import no_downgrade, sql_file_upgrade

revision = "0005"
down_revision = "0002"  # a branch of its own: 0003 and 0004 also follow 0002; `upgrade heads` applies all
branch_labels = None
depends_on = None

upgrade = sql_file_upgrade("0005_alerts.sql")
downgrade = no_downgrade
