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


def slot_acquire(*, user, address, counts, length, record, lease=True):
    """Checks 9 and 9b again under the quota row's lock, then count the download, reserve
    the `length` bytes of the range from the volume and take a slot for `record`.

    Called once the storage has answered and the first bytes are ready to go out, in the
    transaction that writes the record (`Transfer.begin`): failures before that consume
    nothing, and `slot_release` gives back the bytes not sent. Without `lease` (a download
    handed to nginx) nothing is held: the download is counted and its bytes reserved.
    """
    now = timezone.now()
    # The row exists: check 9 (`quota_check`) made it. Locking it outside a transaction
    # would be an error, so this cannot be called but in the record's transaction.
    locked = Quota.objects.select_for_update().get(**_quota_lookup(user, address))
    limits = Limits.of(locked)
    _refuse_if_exhausted(locked, limits, counts=counts, length=length, now=now)
    _quota_take(locked, limits, counts=counts, length=length)
    if not lease:
        return None
    row = DownloadSlot.objects.create(quota=locked, record=record, expires=now + slot_lease())
    slot_keeper.hold(row.pk)
    return Slot(
        id=row.pk,
        quota_id=locked.pk,
        limits=limits,
        counts=counts,
        reserved=length,
        since=locked.since,
    )


def lease_take(*, record):
    """A slot without quota for a download that needs none (a public file type): only the
    lease of its record, so that the sweep closes the record if the worker dies."""
    row = DownloadSlot.objects.create(record=record, expires=timezone.now() + slot_lease())
    slot_keeper.hold(row.pk)
    return Slot(id=row.pk, quota_id=None, limits=None, counts=False, reserved=0, since=None)


def _quota_take(quota, limits, *, counts, length):
    """Count the download (if it counts) and add `length` bytes to the volume, in one
    conditional UPDATE: exact without the lock too, as a parallel download that took the
    last of either makes it match no row."""
    rows = Quota.objects.filter(pk=quota.pk)
    if limits.max_volume != UNLIMITED:
        rows = rows.filter(current_volume__lte=limits.max_volume - length)
    if counts and limits.max_quota != UNLIMITED:
        rows = rows.filter(current_quota__lt=limits.max_quota)
    taken = rows.update(
        current_quota=F("current_quota") + int(counts), current_volume=F("current_volume") + length
    )
    if taken != 1:
        raise QuotaExceeded(extra={"maxQuota": limits.max_quota, "maxVolume": limits.max_volume})


def slot_release(*, slot, bytes_sent):
    """End of a download: free its slot and give back the reserved bytes not sent."""
    slot_keeper.drop(slot.id)
    DownloadSlot.objects.filter(pk=slot.id).delete()
    unsent = slot.reserved - bytes_sent
    if slot.quota_id is not None and unsent > 0:
        # A reset since the slot was taken zeroed the reservation with the rest: nothing
        # to give back then, or the new period would start below zero.
        Quota.objects.filter(pk=slot.quota_id, since=slot.since).update(
            current_volume=F("current_volume") - unsent
        )


def slot_sweep(now=None):
    """Close the records of downloads whose lease ran out (their worker died: nobody
    renews it) as ABORTED, and delete those slots; returns how many were closed.

    Their reserved volume is kept: how much was sent is unknown, and a quota must never
    undercharge.
    """
    now = now or timezone.now()
    with transaction.atomic():
        closed = DownloadRecord.objects.filter(
            slot__expires__lte=now, outcome=DownloadRecord.Outcome.IN_PROGRESS
        ).update(
            outcome=DownloadRecord.Outcome.ABORTED,
            error="the worker serving it stopped; closed when its lease ran out",
            ended=now,
        )
        DownloadSlot.objects.filter(expires__lte=now).delete()
    return closed


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
    """Renews the leases of the slots this process holds, from a daemon thread, and sweeps
    the leases that ran out (those of killed workers).

    Slots of a killed worker are renewed no more and expire within SLOT_LEASE_SECONDS;
    the thread renews each third of a lease so a live download never loses its slot.
    The sweep runs where `start(sweep=True)` asked for it (gunicorn's workers, see
    gunicorn.conf.py), so that a worker that has served nothing yet still closes the
    records that a killed one left open.
    """

    def __init__(self):
        self.held = set()
        self.lock = threading.Lock()
        self.thread = None
        self.sweeps = False
        self.stopping = threading.Event()

    def start(self, *, sweep=False):
        with self.lock:
            self.sweeps = self.sweeps or sweep
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="slot-keeper", daemon=True)
                self.thread.start()

    def hold(self, slot_id):
        with self.lock:
            self.held.add(slot_id)
        self.start()

    def stop(self):
        """Stop the thread after its current round (tests; a worker simply exits)."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join()

    def drop(self, slot_id):
        with self.lock:
            self.held.discard(slot_id)

    def renew(self):
        with self.lock:
            ids = list(self.held)
        if ids:
            DownloadSlot.objects.filter(pk__in=ids).update(expires=timezone.now() + slot_lease())

    def _run(self):
        while not self.stopping.wait(settings.SLOT_LEASE_SECONDS / 3):
            try:
                close_old_connections()
                self.renew()
                if self.sweeps and (closed := slot_sweep()):
                    logger.warning("closed %d record(s) left open by a stopped worker", closed)
            except Exception:  # the next round tries again; a missed renewal is not fatal
                logger.exception("renewing download slots failed")
            finally:
                connection.close()


slot_keeper = SlotKeeper()
