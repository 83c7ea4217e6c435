"""The daily totals count a download when it ends, not when it begins.

Migration 0008's triggers added a record to its day's totals when it was inserted, and
moved it (take, then add) when its outcome and bytes changed at the end: nine statements
on three rows that every download of the day shares, the busiest rows of the database,
for each download. Now a running download (IN_PROGRESS) is in no total: its insert runs no
trigger, and its end adds it, three statements. The dashboard adds the running downloads
from the records (downloads.usage), which an index on (outcome, started) finds.

Every running record ends (completed, aborted, or closed by the lease sweep), so every
record is counted once it has ended. The totals are rebuilt here from the ended records,
after CREATE TRIGGER, whose lock holds off writers until the migration commits.
"""

import importlib

from django.db import migrations

rollup = importlib.import_module("downloads.migrations.0008_usage_rollup")

RUNNING = "'IN_PROGRESS'"
TOTALS = ("downloads_dailyusage", "downloads_dailyuserusage", "downloads_dailydatasetuserusage")


def triggers(vendor):
    """0008's triggers, each skipping the running records."""
    if vendor == "postgresql":
        take, add = (
            rollup.shares(vendor, "OLD", rollup.take),
            rollup.shares(vendor, "NEW", rollup.add),
        )
        table = "ON downloads_downloadrecord FOR EACH ROW"
        return [
            f"""CREATE OR REPLACE FUNCTION downloads_usage_count() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.outcome <> {RUNNING} THEN {take} END IF;
                IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.outcome <> {RUNNING} THEN {add} END IF;
                RETURN NULL;
            END $$""",
            "DROP TRIGGER downloads_usage_insert_delete ON downloads_downloadrecord",
            "DROP TRIGGER downloads_usage_update ON downloads_downloadrecord",
            # WHEN: PostgreSQL does not even call the function for a running record.
            f"CREATE TRIGGER downloads_usage_insert AFTER INSERT {table} "
            f"WHEN (NEW.outcome <> {RUNNING}) EXECUTE FUNCTION downloads_usage_count()",
            f"CREATE TRIGGER downloads_usage_delete AFTER DELETE {table} "
            f"WHEN (OLD.outcome <> {RUNNING}) EXECUTE FUNCTION downloads_usage_count()",
            f"CREATE TRIGGER downloads_usage_update AFTER UPDATE OF {rollup.COUNTED} {table} "
            f"WHEN (OLD.outcome <> {RUNNING} OR NEW.outcome <> {RUNNING}) "
            "EXECUTE FUNCTION downloads_usage_count()",
        ]
    update = f"AFTER UPDATE OF {rollup.COUNTED} ON downloads_downloadrecord"
    return [
        *(f"DROP TRIGGER downloads_usage_{name}" for name in ["insert", "delete", "update"]),
        "CREATE TRIGGER downloads_usage_insert AFTER INSERT ON downloads_downloadrecord "
        f"WHEN NEW.outcome <> {RUNNING} BEGIN {rollup.shares(vendor, 'NEW', rollup.add)} END",
        "CREATE TRIGGER downloads_usage_delete AFTER DELETE ON downloads_downloadrecord "
        f"WHEN OLD.outcome <> {RUNNING} BEGIN {rollup.shares(vendor, 'OLD', rollup.take)} END",
        # Two triggers: a SQLite trigger's WHEN is for its whole body. Either order gives
        # the same sums.
        f"CREATE TRIGGER downloads_usage_update_take {update} WHEN OLD.outcome <> {RUNNING} "
        f"BEGIN {rollup.shares(vendor, 'OLD', rollup.take)} END",
        f"CREATE TRIGGER downloads_usage_update_add {update} WHEN NEW.outcome <> {RUNNING} "
        f"BEGIN {rollup.shares(vendor, 'NEW', rollup.add)} END",
    ]


def rebuild(schema_editor, *, running_counted):
    """Empty the totals and add up the records again (with or without the running ones)."""
    for table in TOTALS:
        schema_editor.execute(f"DELETE FROM {table}")
    for statement in rollup.backfill(schema_editor.connection.vendor):
        if not running_counted:
            # Each statement reads `downloads_downloadrecord r` with or without a WHERE.
            source = "FROM downloads_downloadrecord r"
            ended = f"(SELECT * FROM downloads_downloadrecord WHERE outcome <> {RUNNING}) r"
            statement = statement.replace(source, f"FROM {ended}")
        schema_editor.execute(statement)


def count_ended_downloads(apps, schema_editor):
    for statement in triggers(schema_editor.connection.vendor):
        schema_editor.execute(statement)
    rebuild(schema_editor, running_counted=False)


def count_running_downloads(apps, schema_editor):
    """Back to 0008's triggers and totals."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION downloads_usage_count() CASCADE")
    else:
        for name in ["insert", "delete", "update_take", "update_add"]:
            schema_editor.execute(f"DROP TRIGGER downloads_usage_{name}")
    for statement in rollup.triggers(vendor):
        schema_editor.execute(statement)
    rebuild(schema_editor, running_counted=True)


class Migration(migrations.Migration):
    dependencies = [
        ("downloads", "0008_usage_rollup"),
    ]

    operations = [
        migrations.RunPython(count_ended_downloads, count_running_downloads),
    ]
