"""The usage dashboard's daily totals (DailyUsage, DailyUserUsage, DailyDatasetUserUsage),
kept by triggers.

A trigger on downloads_downloadrecord adds each record to its day's rows when it is
inserted, moves it when a counted column changes (an outcome at the end of a download, a
dataset or user set to NULL by a deletion) and takes it away when it is deleted, in the
writer's transaction: the totals are exact at every commit, and no code path that writes
records (view, lease sweep, bulk loads, cascades) can forget them. A trigger rather than
Python: bulk_create, QuerySet.update() and raw SQL bypass model methods and signals.

Days are UTC days (settings.TIME_ZONE is "UTC"; downloads.usage checks it). The row keys
hold 0 for a missing dataset: ON CONFLICT needs a key that NULL cannot split in two. The
per-user totals count the delivered outcomes only (DELIVERED, frozen here as a migration
must be: a test holds it equal to downloads.usage.DELIVERED).

The covering index of 0006 served the dashboard's scans of records, which it no longer
makes: dropped, so each record write pays for the upserts rather than that index too.
"""

from django.db import migrations, models

COUNTED = "started, dataset_id, user_id, outcome, bytes_sent"
DELIVERED = ("COMPLETED", "ABORTED", "OFFLOADED", "REDIRECTED", "CORRUPT", "IN_PROGRESS")
DAY = {
    "postgresql": "({row}.started AT TIME ZONE 'UTC')::date",
    "sqlite": "date({row}.started)",
}


def add(table, keys, values, where, counters):
    """INSERT one record's share into `table`, or add it to the row already there."""
    columns = ", ".join(keys + counters)
    added = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counters)
    return f"""
        INSERT INTO {table} ({columns}) SELECT {", ".join(values)} WHERE {where}
        ON CONFLICT ({", ".join(keys)}) DO UPDATE SET {added};"""


def take(table, keys, values, where, counters):
    """Take one record's share away from its row, which its insert made. An UPDATE, never
    an insert of negative counts: when the totals were emptied first (`manage.py flush`
    on SQLite deletes table by table), the records deleted after them leave nothing."""
    taken = ", ".join(
        f"{c} = {c} - {v}" for c, v in zip(counters, values[len(keys) :], strict=True)
    )
    matched = " AND ".join(f"{k} = {v}" for k, v in zip(keys, values[: len(keys)], strict=True))
    return f"""
        UPDATE {table} SET {taken} WHERE {matched} AND {where};"""


def shares(vendor, row, write):
    """The statements that `write` (add or take) record `row` (NEW or OLD) to or from its
    day's totals."""
    day = DAY[vendor].format(row=row)
    dataset = f"COALESCE({row}.dataset_id, 0)"
    share = ["1", f"{row}.bytes_sent"]
    delivered = ", ".join(f"'{outcome}'" for outcome in DELIVERED)
    by_user = f"{row}.user_id IS NOT NULL AND {row}.outcome IN ({delivered})"
    return "".join(
        [
            write(
                "downloads_dailyusage",
                ["day", "dataset_id", "outcome"],
                [day, dataset, f"{row}.outcome", *share],
                "true",
                ["records", "bytes_sent"],
            ),
            write(
                "downloads_dailyuserusage",
                ["day", "user_id"],
                [day, f"{row}.user_id", *share],
                by_user,
                ["downloads", "bytes_sent"],
            ),
            write(
                "downloads_dailydatasetuserusage",
                ["day", "dataset_id", "user_id"],
                [day, dataset, f"{row}.user_id", *share],
                by_user,
                ["downloads", "bytes_sent"],
            ),
        ]
    )


def triggers(vendor):
    if vendor == "postgresql":
        return [
            f"""CREATE FUNCTION downloads_usage_count() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP IN ('UPDATE', 'DELETE') THEN {shares(vendor, "OLD", take)} END IF;
                IF TG_OP IN ('UPDATE', 'INSERT') THEN {shares(vendor, "NEW", add)} END IF;
                RETURN NULL;
            END $$""",
            "CREATE TRIGGER downloads_usage_insert_delete AFTER INSERT OR DELETE "
            "ON downloads_downloadrecord FOR EACH ROW EXECUTE FUNCTION downloads_usage_count()",
            f"CREATE TRIGGER downloads_usage_update AFTER UPDATE OF {COUNTED} "
            "ON downloads_downloadrecord FOR EACH ROW EXECUTE FUNCTION downloads_usage_count()",
        ]
    return [
        "CREATE TRIGGER downloads_usage_insert AFTER INSERT ON downloads_downloadrecord "
        f"BEGIN {shares(vendor, 'NEW', add)} END",
        "CREATE TRIGGER downloads_usage_delete AFTER DELETE ON downloads_downloadrecord "
        f"BEGIN {shares(vendor, 'OLD', take)} END",
        f"CREATE TRIGGER downloads_usage_update AFTER UPDATE OF {COUNTED} "
        "ON downloads_downloadrecord "
        f"BEGIN {shares(vendor, 'OLD', take)} {shares(vendor, 'NEW', add)} END",
    ]


def backfill(vendor):
    """The records already there. Run after CREATE TRIGGER, whose lock holds off writers
    until the migration commits: none is counted twice or missed."""
    day = DAY[vendor].format(row="r")
    dataset = "COALESCE(r.dataset_id, 0)"
    delivered = ", ".join(f"'{outcome}'" for outcome in DELIVERED)
    by_user = f"r.user_id IS NOT NULL AND r.outcome IN ({delivered})"
    return [
        f"""INSERT INTO downloads_dailyusage (day, dataset_id, outcome, records, bytes_sent)
        SELECT {day}, {dataset}, r.outcome, COUNT(*), SUM(r.bytes_sent)
        FROM downloads_downloadrecord r GROUP BY 1, 2, 3""",
        f"""INSERT INTO downloads_dailyuserusage (day, user_id, downloads, bytes_sent)
        SELECT {day}, r.user_id, COUNT(*), SUM(r.bytes_sent)
        FROM downloads_downloadrecord r WHERE {by_user} GROUP BY 1, 2""",
        f"""INSERT INTO downloads_dailydatasetuserusage
            (day, dataset_id, user_id, downloads, bytes_sent)
        SELECT {day}, {dataset}, r.user_id, COUNT(*), SUM(r.bytes_sent)
        FROM downloads_downloadrecord r WHERE {by_user} GROUP BY 1, 2, 3""",
    ]


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in triggers(vendor) + backfill(vendor):
        schema_editor.execute(statement)
    if vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS downloadrecord_usage")


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS downloadrecord_usage ON downloads_downloadrecord "
            "(started) INCLUDE (dataset_id, outcome, user_id, bytes_sent)"
        )
        schema_editor.execute("DROP FUNCTION downloads_usage_count() CASCADE")
        return
    for name in ["insert", "delete", "update"]:
        schema_editor.execute(f"DROP TRIGGER downloads_usage_{name}")


class Migration(migrations.Migration):
    dependencies = [
        ("downloads", "0007_s3_restores_and_redirects"),
    ]

    operations = [
        migrations.CreateModel(
            name="DailyDatasetUserUsage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("dataset_id", models.IntegerField()),
                ("user_id", models.IntegerField()),
                ("downloads", models.IntegerField()),
                ("bytes_sent", models.BigIntegerField()),
            ],
            options={
                "verbose_name_plural": "daily dataset user usage",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("day", "dataset_id", "user_id"),
                        name="one_daily_dataset_user_usage_row",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="DailyUsage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("dataset_id", models.IntegerField()),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("IN_PROGRESS", "In Progress"),
                            ("COMPLETED", "Completed"),
                            ("ABORTED", "Aborted by the client"),
                            ("STORAGE_ERROR", "Storage Error"),
                            ("CORRUPT", "Checksum mismatch"),
                            ("OFFLOADED", "Handed to nginx"),
                            ("REDIRECTED", "Redirected to the storage"),
                            ("QUOTA_EXCEEDED", "Refused: quota exceeded"),
                            ("RATE_LIMITED", "Refused: too many simultaneous downloads"),
                        ],
                        max_length=20,
                    ),
                ),
                ("records", models.IntegerField()),
                ("bytes_sent", models.BigIntegerField()),
            ],
            options={
                "verbose_name_plural": "daily usage",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("day", "dataset_id", "outcome"), name="one_daily_usage_row"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="DailyUserUsage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("user_id", models.IntegerField()),
                ("downloads", models.IntegerField()),
                ("bytes_sent", models.BigIntegerField()),
            ],
            options={
                "verbose_name_plural": "daily user usage",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("day", "user_id"), name="one_daily_user_usage_row"
                    )
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
