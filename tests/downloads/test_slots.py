"""Download slots are database leases, renewed while their download streams."""

from datetime import timedelta

import pytest
from django.utils import timezone

from downloads import quotas
from downloads.models import DownloadSlot
from tests.factories import DownloadSlotFactory, QuotaFactory

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


def test_an_expired_slot_is_cleared_when_a_new_one_is_taken(quota):
    DownloadSlotFactory(quota=quota, seconds_left=-1)
    DownloadSlotFactory(quota=quota, seconds_left=-1)

    slot = quotas.slot_acquire(user=quota.user, address=None, counts=True, length=10)

    assert list(DownloadSlot.objects.values_list("pk", flat=True)) == [slot.id]
    quotas.slot_release(slot=slot, bytes_sent=10)
    assert not DownloadSlot.objects.exists()
    quota.refresh_from_db()
    assert quota.current_volume == 10


def test_a_killed_worker_slot_frees_itself_after_its_lease(quota):
    """A worker killed mid-download never releases its slot; its lease runs out."""
    for _ in range(2):
        quotas.slot_acquire(user=quota.user, address=None, counts=False, length=0)
    DownloadSlot.objects.update(expires=timezone.now() - timedelta(seconds=1))  # lease over

    quotas.slot_acquire(user=quota.user, address=None, counts=False, length=0)

    assert DownloadSlot.objects.count() == 1
