# Two operations on one table in one migration (two copies in a row).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shop", "0004_drop_price_index")]
    operations = [
        migrations.AddIndex("item", models.Index(fields=["name"], name="ix_item_name")),
        migrations.AddIndex(
            "item", models.Index(fields=["name", "price"], name="ix_item_name_price")
        ),
    ]
