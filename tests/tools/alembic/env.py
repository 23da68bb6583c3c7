import os

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

url = URL.create(
    "mysql+pymysql",
    username=os.environ["GW_USER"],
    password=os.environ["GW_PASSWORD"],
    host=os.environ["GW_HOST"],
    port=int(os.environ["GW_PORT"]),
    database=os.environ["GW_DB"],
)
engine = create_engine(url, poolclass=NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
