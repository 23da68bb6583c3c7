from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade():
    op.drop_index("ix_items_price", table_name="items")


def downgrade():
    op.create_index("ix_items_price", "items", ["price"])
