"""The daily totals behind the usage dashboard (DailyUsage, DailyUserUsage): the triggers of
migrations downloads.0008 and 0009 keep them equal to the ended records grouped afresh,
whichever way the records are written, changed or deleted."""

import datetime
import importlib

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from downloads import quotas
from downloads.models import (
    DailyDatasetUserUsage,
    DailyUsage,
    DailyUserUsage,
    DownloadRecord,
)
from downloads.usage import DELIVERED, check_utc_days
from products.models import Product
from tests.downloads.test_usage_dashboard import URL, figures_of
from tests.factories import (
    DataFileFactory,
    DatasetFactory,
    DownloadRecordFactory,
    QuotaFactory,
    RunningDownloadFactory,
    UserFactory,
)
from tests.helpers import body_of, download_url

pytestmark = pytest.mark.django_db

Outcome = DownloadRecord.Outcome


def regrouped():
    """{model: {key: (count, bytes)}} of the records now, added up in Python: what the
    triggers must hold. A running download is counted when it ends."""
    totals = {DailyUsage: {}, DailyUserUsage: {}, DailyDatasetUserUsage: {}}

    def add(model, key, size):
        count, total = totals[model].get(key, (0, 0))
        totals[model][key] = (count + 1, total + size)

    for record in DownloadRecord.objects.exclude(outcome=Outcome.IN_PROGRESS):
        day = record.started.astimezone(datetime.UTC).date()
        dataset = record.dataset_id or 0
        add(DailyUsage, (day, dataset, record.outcome), record.bytes_sent)
        if record.user_id is not None and record.outcome in DELIVERED:
            add(DailyUserUsage, (day, record.user_id), record.bytes_sent)
            add(DailyDatasetUserUsage, (day, dataset, record.user_id), record.bytes_sent)
    return totals


KEYS = {
    DailyUsage: ("day", "dataset_id", "outcome", "records"),
    DailyUserUsage: ("day", "user_id", "downloads"),
    DailyDatasetUserUsage: ("day", "dataset_id", "user_id", "downloads"),
}


def held(model):
    """The non-zero rows of `model`; a row taken back to zero records holds zero bytes."""
    totals = {}
    for *key, count, size in model.objects.values_list(*KEYS[model], "bytes_sent"):
        assert count >= 0
        if count:
            totals[tuple(key)] = (count, size)
        else:
            assert size == 0, key
    return totals


def assert_totals_exact():
    expected = regrouped()
    for model in KEYS:
        assert held(model) == expected[model], model.__name__


def days_ago(n, hour=12):
    return timezone.now().replace(hour=hour) - datetime.timedelta(days=n)


def delete_dataset(dataset):
    Product.objects.filter(dataset=dataset).delete()
    dataset.delete()


def test_the_totals_follow_every_way_records_are_written_changed_and_deleted():
    alpha, beta = DatasetFactory(), DatasetFactory()
    a_file = DataFileFactory(product__dataset=alpha, filesize=100)
    b_file = DataFileFactory(product__dataset=beta, filesize=1000)
    alice, bob = UserFactory(), UserFactory()

    # Written one by one, over several days, by users and an anonymous caller.
    DownloadRecordFactory(data_file=a_file, user=alice)
    DownloadRecordFactory(data_file=a_file, user=alice, started=days_ago(1))
    DownloadRecordFactory(data_file=b_file, user=bob, started=days_ago(3, hour=23))
    DownloadRecordFactory(data_file=b_file, client_address="10.0.0.1", bytes_sent=7)
    refused = DownloadRecordFactory(
        data_file=b_file, user=bob, outcome=Outcome.QUOTA_EXCEEDED, bytes_sent=0
    )
    assert_totals_exact()

    # In bulk, as a history import would.
    DownloadRecord.objects.bulk_create(
        DownloadRecordFactory.build(data_file=a_file, user=bob, started=days_ago(n % 5))
        for n in range(20)
    )
    assert_totals_exact()

    # A running download ends (finish() updates the outcome and the bytes), a lease is
    # renewed (no counted column), a killed worker's download is swept.
    running = RunningDownloadFactory(quota=QuotaFactory(user=alice), data_file=b_file)
    dead = RunningDownloadFactory(quota=QuotaFactory(user=bob), data_file=a_file, seconds_left=-5)
    assert_totals_exact()
    DownloadRecord.objects.filter(pk=running.pk).update(
        outcome=Outcome.ABORTED, bytes_sent=400, ended=timezone.now(), lease_expires=None
    )
    DownloadRecord.objects.filter(pk=dead.pk).update(lease_expires=timezone.now())
    assert quotas.slot_sweep() == 1
    assert_totals_exact()

    # A whole-row save, a record moved to another day, a record deleted.
    refused.error = "edited"
    refused.save()
    DownloadRecord.objects.filter(pk=refused.pk).update(started=days_ago(2))
    DownloadRecord.objects.filter(user=alice, started__lt=days_ago(0, hour=0)).delete()
    assert_totals_exact()

    # Deleting a dataset (its products first) or a user sets the records' column to NULL
    # (on_delete=SET_NULL).
    delete_dataset(alpha)
    bob.delete()
    assert_totals_exact()
    assert DailyUserUsage.objects.filter(user_id=bob.pk).exclude(downloads=0).count() == 0


def test_a_running_download_is_counted_when_it_ends():
    data_file = DataFileFactory(filesize=100)
    alice = UserFactory()
    running = RunningDownloadFactory(quota=QuotaFactory(user=alice), data_file=data_file)

    assert [model.objects.count() for model in KEYS] == [0, 0, 0]

    DownloadRecord.objects.filter(pk=running.pk).update(
        outcome=Outcome.COMPLETED, bytes_sent=100, ended=timezone.now(), lease_expires=None
    )

    day = running.started.astimezone(datetime.UTC).date()
    assert held(DailyUsage) == {(day, data_file.product.dataset_id, "COMPLETED"): (1, 100)}
    assert held(DailyUserUsage) == {(day, alice.pk): (1, 100)}
    assert_totals_exact()


@pytest.mark.django_db(transaction=True)
def test_migration_0009_rebuilds_the_totals_from_the_ended_records():
    """Back to 0008 (running downloads counted when they begin) and forward again."""
    data_file = DataFileFactory(filesize=100)
    dataset_id = data_file.product.dataset_id
    alice = UserFactory()
    DownloadRecordFactory(data_file=data_file, user=alice, bytes_sent=60)
    quota = QuotaFactory(user=alice)
    running = RunningDownloadFactory(quota=quota, data_file=data_file, bytes_sent=5)
    day = running.started.astimezone(datetime.UTC).date()

    call_command("migrate", "downloads", "0008", verbosity=0)
    try:
        assert held(DailyUsage)[(day, dataset_id, "IN_PROGRESS")] == (1, 5)
    finally:
        call_command("migrate", "downloads", verbosity=0)

    assert not any(key[2] == "IN_PROGRESS" for key in held(DailyUsage))
    assert_totals_exact()
    # The triggers of 0009 are back: a new running download is in no total.
    RunningDownloadFactory(quota=quota, data_file=data_file)
    assert_totals_exact()


def test_a_rolled_back_write_leaves_the_totals_as_they_were():
    data_file = DataFileFactory()
    DownloadRecordFactory(data_file=data_file)
    before = held(DailyUsage)

    with pytest.raises(RuntimeError), transaction.atomic():
        DownloadRecordFactory(data_file=data_file)
        raise RuntimeError("the download failed after its record was written")

    assert held(DailyUsage) == before
    assert_totals_exact()


def test_a_real_download_and_a_quota_refusal_reach_the_dashboard(
    client, steward, client_for, stored_file
):
    content = b"twelve bytes"
    data_file = stored_file(content)
    scientist = UserFactory(email="scientist@example.org")
    QuotaFactory(user=scientist, max_quota=1)
    api = client_for(scientist)

    downloaded = api.get(download_url(data_file))
    assert downloaded.status_code == 200
    assert body_of(downloaded) == content
    assert api.get(download_url(data_file)).status_code == 429

    assert_totals_exact()
    page = figures_of(client.get(URL))
    assert page.one("downloads-total") == 1
    assert page.one("bytes-total") == len(content)
    assert page.rows("refusals", "outcome")[0] == ("QUOTA_EXCEEDED", 1)
    assert page.rows("user-bytes", "user") == [("scientist@example.org", len(content))]


def test_the_dashboard_keeps_a_deleted_datasets_downloads_and_drops_a_deleted_user(client, steward):
    gone = DatasetFactory(label="Gone")
    leaver = UserFactory(email="leaver@example.org")
    DownloadRecordFactory(data_file=DataFileFactory(product__dataset=gone, filesize=5), user=leaver)
    delete_dataset(gone)
    leaver.delete()

    page = figures_of(client.get(URL))

    assert page.one("downloads-total") == 1
    assert page.one("bytes-total") == 5
    assert "(deleted dataset)" in client.get(URL).content.decode()
    assert page.rows("user-bytes", "user") == []


def test_a_time_zone_other_than_utc_is_refused_at_start_up(settings):
    assert check_utc_days() == []

    settings.TIME_ZONE = "Europe/Paris"

    assert [error.id for error in check_utc_days()] == ["downloads.E001"]


def test_the_triggers_count_the_outcomes_the_dashboard_calls_downloads():
    migration = importlib.import_module("downloads.migrations.0008_usage_rollup")

    assert set(migration.DELIVERED) == set(DELIVERED)


def test_records_deleted_after_their_totals_leave_no_negative_totals():
    """`manage.py flush` on SQLite empties the tables one by one, the totals maybe first."""
    DownloadRecordFactory(user=UserFactory())
    for model in KEYS:
        model.objects.all().delete()

    DownloadRecord.objects.all().delete()

    assert [model.objects.count() for model in KEYS] == [0, 0, 0]
