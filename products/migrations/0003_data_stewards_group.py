"""The "Data stewards" group; its permissions are synced after each migrate (products.apps)."""

from django.db import migrations

STEWARD_GROUP = "Data stewards"


def create_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name=STEWARD_GROUP)


class Migration(migrations.Migration):
    dependencies = [
        ("products", "0002_search_indexes"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(create_group, migrations.RunPython.noop)]
