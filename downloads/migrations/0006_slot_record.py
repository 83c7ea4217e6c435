import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("downloads", "0005_drop_live_slots")]

    operations = [
        migrations.AlterField(
            model_name="downloadslot",
            name="quota",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="slots",
                to="downloads.quota",
            ),
        ),
        migrations.AddField(
            model_name="downloadslot",
            name="record",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="slot",
                to="downloads.downloadrecord",
            ),
            preserve_default=False,
        ),
    ]
