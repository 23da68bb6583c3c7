# Two operations on one table in one migration (two copies in a row).
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade():
    op.create_index("ix_items_name", "items", ["name"])
    op.create_index("ix_items_name_price", "items", ["name", "price"], unique=True)


def downgrade():
    op.drop_index("ix_items_name_price", table_name="items")
    op.drop_index("ix_items_name", table_name="items")
