"""Download slots are database leases, renewed while their download streams."""

from datetime import timedelta

import pytest
from django.utils import timezone

from downloads import quotas
from downloads.models import DownloadRecord, DownloadSlot
from tests.factories import DownloadSlotFactory, QuotaFactory
from tests.processes import wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture
def quota():
    return QuotaFactory(rate_limit=2)


def test_the_keeper_renews_the_slots_of_running_downloads(quota, settings):
    settings.SLOT_LEASE_SECONDS = 60
    keeper = quotas.SlotKeeper()
    running = DownloadSlotFactory(quota=quota, seconds_left=5)
    finished = DownloadSlotFactory(quota=quota, seconds_left=5)
    keeper.held = {running.pk, finished.pk}
    keeper.drop(finished.pk)

    keeper.renew()

    running.refresh_from_db()
    finished.refresh_from_db()
    assert running.expires > timezone.now() + timedelta(seconds=55)
    assert finished.expires < timezone.now() + timedelta(seconds=6)


def test_a_killed_worker_slot_frees_itself_after_its_lease(quota):
    """A worker killed mid-download never releases its slot; its lease runs out."""
    running = DownloadSlotFactory(quota=quota, seconds_left=60)
    DownloadSlotFactory(quota=quota, seconds_left=60)
    assert quotas.live_slots(quota).count() == quota.rate_limit

    DownloadSlot.objects.exclude(pk=running.pk).update(
        expires=timezone.now() - timedelta(seconds=1)
    )

    assert list(quotas.live_slots(quota)) == [running]


def test_the_sweep_closes_the_records_of_expired_leases_as_aborted(quota):
    dead = DownloadSlotFactory(quota=quota, seconds_left=-1)
    dead_public = DownloadSlotFactory(quota=None, seconds_left=-1)
    alive = DownloadSlotFactory(quota=quota, seconds_left=60)

    assert quotas.slot_sweep() == 2

    assert list(DownloadSlot.objects.all()) == [alive]
    for slot in (dead, dead_public):
        slot.record.refresh_from_db()
        assert slot.record.outcome == DownloadRecord.Outcome.ABORTED
        assert slot.record.ended is not None
    alive.record.refresh_from_db()
    assert (alive.record.outcome, alive.record.ended) == (DownloadRecord.Outcome.IN_PROGRESS, None)


def test_the_sweep_leaves_finished_records_alone(quota):
    slot = DownloadSlotFactory(quota=quota, seconds_left=-1)
    DownloadRecord.objects.filter(pk=slot.record_id).update(outcome="COMPLETED", bytes_sent=7)

    assert quotas.slot_sweep() == 0

    assert not DownloadSlot.objects.exists()
    slot.record.refresh_from_db()
    assert (slot.record.outcome, slot.record.bytes_sent) == ("COMPLETED", 7)


@pytest.mark.django_db(transaction=True)  # the keeper's thread has its own connection
def test_a_keeper_started_to_sweep_closes_dead_records_on_its_own(quota, settings):
    settings.SLOT_LEASE_SECONDS = 0.3  # a round every 0.1 s
    slot = DownloadSlotFactory(quota=quota, seconds_left=-1)
    keeper = quotas.SlotKeeper()

    keeper.start(sweep=True)
    try:

        def closed():
            return DownloadRecord.objects.filter(pk=slot.record_id, outcome="ABORTED").exists()

        wait_until(closed, message="the keeper's sweep")
    finally:
        keeper.stop()
    assert not DownloadSlot.objects.exists()
