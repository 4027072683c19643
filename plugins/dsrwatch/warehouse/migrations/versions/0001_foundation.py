"""Foundation: raw, core, ops and analyst schemas; submarine cables."""

from dsrwatch.warehouse.schema import run_sql_file

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file("0001_foundation.sql")


def downgrade() -> None:
    raise NotImplementedError("the warehouse keeps history; restore from a backup instead")
