"""Runs Alembic on this directory's migrations: `run.py upgrade|downgrade REV`.
The database comes from GW_HOST, GW_PORT, GW_USER, GW_PASSWORD, GW_DB."""
import os
import sys

from alembic import command
from alembic.config import Config

cfg = Config()
cfg.set_main_option("script_location", os.path.dirname(os.path.abspath(__file__)))
getattr(command, sys.argv[1])(cfg, sys.argv[2])
