"""A covering index for the usage dashboard's GROUP BYs on PostgreSQL (downloads/usage.py).

They read a date range of records and only these columns: with them in the index, the
range is an index-only scan of a few bytes per record instead of reading every record's
row (URN, checksum, filename, error). SQLite has no INCLUDE: its `started` index serves it.
"""

from django.db import migrations

INDEX = "downloadrecord_usage"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON downloads_downloadrecord (started) "
            "INCLUDE (dataset_id, outcome, user_id, bytes_sent)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("downloads", "0005_record_leases")]
    operations = [migrations.RunPython(create_index, drop_index)]
