from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade():
    op.create_index("ix_items_price", "items", ["price"])


def downgrade():
    op.drop_index("ix_items_price", table_name="items")
