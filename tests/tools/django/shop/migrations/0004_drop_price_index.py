from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("shop", "0003_price_index")]
    operations = [
        migrations.RemoveIndex("item", "ix_item_price"),
    ]
