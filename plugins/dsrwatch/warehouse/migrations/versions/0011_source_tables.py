"""ops.source_tables: the source that owns each core table, from the sources' declarations."""

from dsrwatch.warehouse.schema import no_downgrade, sql_file_upgrade

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

upgrade = sql_file_upgrade("0011_source_tables.sql")
downgrade = no_downgrade
