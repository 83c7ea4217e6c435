"""Download slots are leases on the records of running downloads, renewed while they
stream; the lease sweep closes the downloads of killed workers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from downloads import quotas
from downloads.models import DownloadRecord
from tests.factories import QuotaFactory, RunningDownloadFactory
from tests.helpers import running_downloads
from tests.processes import wait_until

pytestmark = pytest.mark.django_db

Outcome = DownloadRecord.Outcome


@pytest.fixture
def quota():
    return QuotaFactory(rate_limit=2)


def test_the_keeper_renews_the_slots_of_running_downloads(quota, settings):
    settings.SLOT_LEASE_SECONDS = 60
    keeper = quotas.SlotKeeper()
    running = RunningDownloadFactory(quota=quota, seconds_left=5)
    finished = RunningDownloadFactory(quota=quota, seconds_left=5)
    keeper.held = {running.pk, finished.pk}
    keeper.drop(finished.pk)

    keeper.renew()

    running.refresh_from_db()
    finished.refresh_from_db()
    assert running.lease_expires > timezone.now() + timedelta(seconds=55)
    assert finished.lease_expires < timezone.now() + timedelta(seconds=6)


def test_a_killed_worker_slot_frees_itself_after_its_lease(quota):
    """A worker killed mid-download never releases its slot; its lease runs out."""
    running = RunningDownloadFactory(quota=quota, seconds_left=60)
    RunningDownloadFactory(quota=quota, seconds_left=60)
    assert quotas.live_slots(quota).count() == quota.rate_limit

    running_downloads().exclude(pk=running.pk).update(
        lease_expires=timezone.now() - timedelta(seconds=1)
    )

    assert list(quotas.live_slots(quota)) == [running]
    # The hand-written count that checks 9 and 9b run says the same.
    assert quotas.live_slot_count(quota) == quotas.live_slot_count(quota.pk) == 1


def test_the_sweep_closes_the_downloads_whose_lease_ran_out_as_aborted(quota):
    dead = RunningDownloadFactory(quota=quota, seconds_left=-1)
    dead_public = RunningDownloadFactory(quota=None, seconds_left=-1)
    alive = RunningDownloadFactory(quota=quota, seconds_left=60)

    assert quotas.slot_sweep() == 2

    assert list(running_downloads()) == [alive]
    for record in (dead, dead_public):
        record.refresh_from_db()
        assert (record.outcome, record.lease_expires) == (Outcome.ABORTED, None)
        assert "lease ran out" in record.error
        assert record.ended is not None
    alive.refresh_from_db()
    assert (alive.outcome, alive.ended) == (Outcome.IN_PROGRESS, None)


def test_the_sweep_leaves_finished_downloads_alone(quota):
    finished = RunningDownloadFactory(quota=quota, seconds_left=-1)
    DownloadRecord.objects.filter(pk=finished.pk).update(outcome="COMPLETED", bytes_sent=7)

    assert quotas.slot_sweep() == 0

    finished.refresh_from_db()
    assert (finished.outcome, finished.bytes_sent) == ("COMPLETED", 7)


@pytest.mark.django_db(transaction=True)  # the keeper's thread has its own connection
def test_a_keeper_started_to_sweep_closes_dead_downloads_on_its_own(quota, settings):
    settings.SLOT_LEASE_SECONDS = 0.3  # a round every 0.1 s
    dead = RunningDownloadFactory(quota=quota, seconds_left=-1)
    keeper = quotas.SlotKeeper()

    keeper.start(sweep=True)
    try:

        def closed():
            return DownloadRecord.objects.filter(pk=dead.pk, outcome=Outcome.ABORTED).exists()

        wait_until(closed, message="the keeper's sweep")
    finally:
        keeper.stop()
    assert not running_downloads().exists()
