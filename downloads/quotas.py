"""Download quotas (SPEC §3 Quotas): the limits that apply, what counts, and the slots of
running downloads.

Counters change by conditional UPDATE or under the quota row's lock, never read in
Python then written back: several workers and hosts share these rows.
"""

import dataclasses
import logging
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import Count, F, Q, Subquery
from django.utils import timezone

from downloads.exceptions import QuotaExceeded, RateLimited
from downloads.models import UNLIMITED, DownloadRecord, DownloadSlot, Quota, QuotaDefaults

logger = logging.getLogger(__name__)
ANONYMOUS_WITHOUT_ADDRESS = "0.0.0.0"


@dataclasses.dataclass(frozen=True)
class Limits:
    """The limits that apply to one quota: its own where set, else the defaults."""

    max_quota: int
    rate_limit: int
    max_volume: int

    @classmethod
    def of(cls, quota, defaults=None):
        defaults = defaults or QuotaDefaults.current()
        return cls(
            *(
                getattr(defaults, name) if getattr(quota, name) is None else getattr(quota, name)
                for name in ("max_quota", "rate_limit", "max_volume")
            )
        )


@dataclasses.dataclass(frozen=True)
class Slot:
    """A running download's lease on one of its caller's simultaneous downloads."""

    id: int
    quota_id: int
    limits: Limits
    counts: bool  # whether this download adds to the download count
    reserved: int  # bytes added to the volume when the slot was taken
    since: datetime  # the quota period the reservation belongs to


def _quota_lookup(user, address):
    if user is not None:
        return {"user": user}
    return {"client_address": address or ANONYMOUS_WITHOUT_ADDRESS}


def quota_for(*, user=None, address=None):
    """The quota row of a user, or of a client address for anonymous callers."""
    lookup = _quota_lookup(user, address)
    try:
        return Quota.objects.get_or_create(**lookup)[0]
    except IntegrityError:  # created meanwhile by a parallel request
        return Quota.objects.get(**lookup)


def counts_as_download(*, user, address, data_file, start):
    """A download counts unless it is a resume: a range starting after byte 0 of a file
    the same caller has already received bytes of in the current quota period.

    Every record that delivered bytes was either counted itself or resumed one counted
    earlier in the same period, so "bytes_sent > 0 and started >= quota.since" finds a
    counted download. One EXISTS query, for ranged requests only.
    """
    if start == 0:
        return True
    caller = {"user": user} if user is not None else {"user": None, "client_address": address}
    since = Quota.objects.filter(**_quota_lookup(user, address)).values("since")
    resumed = DownloadRecord.objects.filter(
        **caller, data_file=data_file, bytes_sent__gt=0, started__gte=Subquery(since)
    )
    return not resumed.exists()


def live_slots(quota, now=None):
    return quota.slots.filter(expires__gt=now or timezone.now())


def _refuse_if_exhausted(quota, limits, *, counts, length, now):
    if counts and limits.max_quota != UNLIMITED and quota.current_quota >= limits.max_quota:
        raise QuotaExceeded(
            extra={"maxQuota": limits.max_quota, "currentQuota": quota.current_quota}
        )
    if limits.max_volume != UNLIMITED and quota.current_volume + length > limits.max_volume:
        remaining = max(limits.max_volume - quota.current_volume, 0)
        raise QuotaExceeded(
            f"This download needs {length} bytes and {remaining} are left of your download "
            "volume until the next reset: ask for a smaller range.",
            extra={
                "maxVolume": limits.max_volume,
                "currentVolume": quota.current_volume,
                "remainingVolume": remaining,
            },
        )
    if limits.rate_limit != UNLIMITED and live_slots(quota, now).count() >= limits.rate_limit:
        raise RateLimited(
            extra={"rateLimit": limits.rate_limit},
            headers={"Retry-After": str(settings.RATE_LIMIT_RETRY_AFTER)},
        )


def quota_check(*, user, address, counts, length):
    """Checks 9 and 9b without taking anything (HEAD)."""
    quota = quota_for(user=user, address=address)
    _refuse_if_exhausted(quota, Limits.of(quota), counts=counts, length=length, now=timezone.now())


def slot_acquire(*, user, address, counts, length):
    """Checks 9 and 9b, then take a download slot and reserve the `length` bytes of the
    range from the volume, under the quota row's lock.

    The download itself is counted later by `download_count`, once the storage has
    answered, and `slot_release` gives back the bytes not sent, so that failures before
    the first byte consume nothing.
    """
    quota = quota_for(user=user, address=address)
    now = timezone.now()
    with transaction.atomic():
        locked = Quota.objects.select_for_update().get(pk=quota.pk)
        limits = Limits.of(locked)
        if limits.rate_limit != UNLIMITED:  # leases of killed workers: clear them first
            locked.slots.filter(expires__lte=now).delete()
        _refuse_if_exhausted(locked, limits, counts=counts, length=length, now=now)
        _volume_reserve(locked, limits, length)
        row = DownloadSlot.objects.create(quota=locked, expires=now + slot_lease())
    slot_keeper.hold(row.pk)
    return Slot(
        id=row.pk,
        quota_id=locked.pk,
        limits=limits,
        counts=counts,
        reserved=length,
        since=locked.since,
    )


def _volume_reserve(quota, limits, length):
    rows = Quota.objects.filter(pk=quota.pk)
    if limits.max_volume != UNLIMITED:
        # Exact without the lock too: a parallel reservation makes this match no row.
        rows = rows.filter(current_volume__lte=limits.max_volume - length)
    if rows.update(current_volume=F("current_volume") + length) != 1:
        raise QuotaExceeded(extra={"maxVolume": limits.max_volume})


def download_count(*, slot):
    """Count the download holding `slot`, if it counts and the limit still allows it;
    False if a parallel download took the last one meanwhile."""
    if not slot.counts:
        return True
    rows = Quota.objects.filter(pk=slot.quota_id)
    if slot.limits.max_quota != UNLIMITED:
        rows = rows.filter(current_quota__lt=slot.limits.max_quota)
    return rows.update(current_quota=F("current_quota") + 1) == 1


def slot_release(*, slot, bytes_sent):
    """End of a download: free its slot and give back the reserved bytes not sent."""
    slot_keeper.drop(slot.id)
    DownloadSlot.objects.filter(pk=slot.id).delete()
    unsent = slot.reserved - bytes_sent
    if unsent > 0:
        # A reset since the slot was taken zeroed the reservation with the rest: nothing
        # to give back then, or the new period would start below zero.
        Quota.objects.filter(pk=slot.quota_id, since=slot.since).update(
            current_volume=F("current_volume") - unsent
        )


def quota_reset(*, quotas, dry_run=False):
    """Zero the counters of `quotas` (a queryset); returns their state before the reset.

    One UPDATE: downloads counted meanwhile are either before or after it, never lost
    half-way; live slots are left alone (they are running downloads, not usage).
    """
    before = list(quotas.select_related("user").order_by("id"))
    if not dry_run:
        quotas.update(current_quota=0, current_volume=0, since=timezone.now())
    return before


def quota_usage(quotas):
    """Annotate quotas with their live slot count (`current_rate`)."""
    return quotas.annotate(current_rate=Count("slots", filter=Q(slots__expires__gt=timezone.now())))


def quota_limits_set(*, quota, max_quota, rate_limit, max_volume):
    """Set a user's own limits (None = back to the default).

    Only the limits: writing the whole row would put back counters read a moment ago,
    losing the downloads counted meanwhile.
    """
    Quota.objects.filter(pk=quota.pk).update(
        max_quota=max_quota, rate_limit=rate_limit, max_volume=max_volume
    )


def slot_lease():
    return timedelta(seconds=settings.SLOT_LEASE_SECONDS)


class SlotKeeper:
    """Renews the leases of the slots this process holds, from a daemon thread.

    Slots of a killed worker are renewed no more and expire within SLOT_LEASE_SECONDS;
    the thread renews each third of a lease so a live download never loses its slot.
    """

    def __init__(self):
        self.held = set()
        self.lock = threading.Lock()
        self.thread = None

    def hold(self, slot_id):
        with self.lock:
            self.held.add(slot_id)
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="slot-keeper", daemon=True)
                self.thread.start()

    def drop(self, slot_id):
        with self.lock:
            self.held.discard(slot_id)

    def renew(self):
        with self.lock:
            ids = list(self.held)
        if ids:
            DownloadSlot.objects.filter(pk__in=ids).update(expires=timezone.now() + slot_lease())

    def _run(self):
        while True:
            threading.Event().wait(settings.SLOT_LEASE_SECONDS / 3)
            try:
                close_old_connections()
                self.renew()
            except Exception:  # the next round tries again; a missed renewal is not fatal
                logger.exception("renewing download slots failed")
            finally:
                connection.close()


slot_keeper = SlotKeeper()
