"""Runs Django's `migrate shop TARGET` on this directory's app.
The database comes from GW_HOST, GW_PORT, GW_USER, GW_PASSWORD, GW_DB."""
import os
import sys

import pymysql

# Django's MySQL backend wants mysqlclient; PyMySQL stands in for it (and
# says which mysqlclient version it matches).
pymysql.version_info = (2, 2, 7, "final", 0)
pymysql.install_as_MySQLdb()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": os.environ["GW_DB"],
            "USER": os.environ["GW_USER"],
            "PASSWORD": os.environ["GW_PASSWORD"],
            "HOST": os.environ["GW_HOST"],
            "PORT": os.environ["GW_PORT"],
        }
    },
    INSTALLED_APPS=["shop"],
    USE_TZ=True,
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
)
django.setup()

from django.core.management import call_command  # noqa: E402

call_command("migrate", "shop", sys.argv[1], verbosity=0)
