"""Tables for the project's vocabulary (severities, entity categories), filled from vocabulary.py."""

from dsrwatch.warehouse.schema import no_downgrade, sql_file_upgrade

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

upgrade = sql_file_upgrade("0010_vocabulary.sql")
downgrade = no_downgrade
