from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shop", "0002_price")]
    operations = [
        migrations.AddIndex("item", models.Index(fields=["price"], name="ix_item_price")),
    ]
