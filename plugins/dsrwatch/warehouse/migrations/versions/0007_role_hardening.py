"""Role hardening: only the pipeline and dsr_analyst connect; analysts read the analyst views only."""

from dsrwatch.warehouse.schema import no_downgrade, sql_file_upgrade

revision = "0007"
down_revision = "0005"  # a branch of its own beside 0006 and 0008; `upgrade heads` applies all
branch_labels = None
depends_on = None

upgrade = sql_file_upgrade("0007_role_hardening.sql")
downgrade = no_downgrade
