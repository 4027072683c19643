"""Quarantined and abandoned runs, per-source load locks, records set aside by validation."""

from dsrwatch.warehouse.schema import no_downgrade, sql_file_upgrade

revision = "0006"
down_revision = "0004"  # a branch of its own beside 0005; `upgrade heads` applies all
branch_labels = None
depends_on = None

upgrade = sql_file_upgrade("0006_quarantine.sql")
downgrade = no_downgrade
