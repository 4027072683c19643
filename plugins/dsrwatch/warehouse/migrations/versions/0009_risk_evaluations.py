"""Risk evaluations move from ops.source_runs to a ledger of their own, ops.risk_evaluations."""

from dsrwatch.warehouse.schema import no_downgrade, sql_file_upgrade

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None

upgrade = sql_file_upgrade("0009_risk_evaluations.sql")
downgrade = no_downgrade
