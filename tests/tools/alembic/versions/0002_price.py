import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade():
    op.add_column("items", sa.Column("price", sa.Integer, nullable=True))


def downgrade():
    op.drop_column("items", "price")
