from django.db import migrations


def drop_slots(apps, schema_editor):
    # Slots are leases of running downloads, renewed every few seconds: the ones alive
    # during the upgrade cannot be tied to a record, and dropping them only frees them.
    apps.get_model("downloads", "DownloadSlot").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("downloads", "0004_license_moved_to_products")]

    operations = [migrations.RunPython(drop_slots, migrations.RunPython.noop)]
