"""Writes about licences, quotas and restores. Counters change by conditional UPDATE or under the
quota row's lock — never read in Python then written back."""

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from downloads.availability import file_states
from downloads.exceptions import QuotaExceeded, RateLimited
from downloads.models import (
    UNLIMITED,
    DownloadSlot,
    LicenseAcceptance,
    Quota,
    QuotaDefaults,
    RestoreRequest,
)
from downloads.storage import get_location
from storage_client import StorageError

logger = logging.getLogger(__name__)
ANONYMOUS_WITHOUT_ADDRESS = "0.0.0.0"


# Licences


def license_is_accepted(*, user, license):
    """Has the user accepted the licence's current version?"""
    return LicenseAcceptance.objects.filter(
        user=user, license=license, version=license.version
    ).exists()


def license_accept(*, user, license):
    """Record the user's acceptance of the current version (idempotent)."""
    acceptance, _ = LicenseAcceptance.objects.get_or_create(
        user=user, license=license, version=license.version
    )
    return acceptance


# Quotas


def client_address(request):
    """The caller's address (REMOTE_ADDR: set it from X-Forwarded-For in the proxy, not here)."""
    return request.META.get("REMOTE_ADDR") or None


def quota_for(*, user=None, address=None):
    """The quota row of a user, or of a client address for anonymous callers."""
    lookup = (
        {"user": user}
        if user is not None
        else {"client_address": address or ANONYMOUS_WITHOUT_ADDRESS}
    )
    try:
        return Quota.objects.get_or_create(**lookup)[0]
    except IntegrityError:  # created meanwhile by a parallel request
        return Quota.objects.get(**lookup)


def live_slots(quota, now=None):
    return quota.slots.filter(expires__gt=now or timezone.now())


def _refuse_if_exhausted(quota, limits, *, counts, now):
    max_quota, rate_limit, max_volume = limits
    if counts and max_quota != UNLIMITED and quota.current_quota >= max_quota:
        raise QuotaExceeded(extra={"maxQuota": max_quota, "currentQuota": quota.current_quota})
    if max_volume != UNLIMITED and quota.current_volume >= max_volume:
        raise QuotaExceeded(
            "Your download volume is used up until the next reset.",
            extra={"maxVolume": max_volume, "currentVolume": quota.current_volume},
        )
    if rate_limit != UNLIMITED and live_slots(quota, now).count() >= rate_limit:
        raise RateLimited(
            extra={"rateLimit": rate_limit},
            headers={"Retry-After": str(settings.RATE_LIMIT_RETRY_AFTER)},
        )


def quota_check(*, quota, counts):
    """Checks 9 and 9b without taking anything (HEAD)."""
    _refuse_if_exhausted(
        quota, quota.limits(QuotaDefaults.current()), counts=counts, now=timezone.now()
    )


def slot_acquire(*, quota, counts):
    """Checks 9 and 9b, then take a download slot under the quota row's lock.

    The download itself is counted later by `quota_count_download`, once the storage
    has answered, so that failures before the first byte consume nothing.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = Quota.objects.select_for_update().get(pk=quota.pk)
        limits = locked.limits(QuotaDefaults.current())
        if limits[1] != UNLIMITED:  # leases of killed workers: clear them before counting
            locked.slots.filter(expires__lte=now).delete()
        _refuse_if_exhausted(locked, limits, counts=counts, now=now)
        slot = DownloadSlot.objects.create(quota=locked, expires=now + slot_lease())
    slot.max_quota = limits[0]  # for quota_count_download, without reading the defaults again
    slot_keeper.hold(slot.pk)
    return slot


def quota_count_download(*, slot):
    """Count the download holding `slot` if the limit still allows it; False if a
    parallel one took the last download meanwhile."""
    max_quota = slot.max_quota
    rows = Quota.objects.filter(pk=slot.quota_id)
    if max_quota != UNLIMITED:
        rows = rows.filter(current_quota__lt=max_quota)
    return rows.update(current_quota=F("current_quota") + 1) == 1


def slot_release(*, slot, bytes_sent):
    """End of a download: free its slot and add the bytes actually sent to the volume."""
    slot_keeper.drop(slot.pk)
    DownloadSlot.objects.filter(pk=slot.pk).delete()
    if bytes_sent:
        Quota.objects.filter(pk=slot.quota_id).update(
            current_volume=F("current_volume") + bytes_sent
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


def quota_limits_set(*, quota, max_quota, rate_limit, max_volume):
    """Set a user's own limits (None = back to the default)."""
    Quota.objects.filter(pk=quota.pk).update(
        max_quota=max_quota, rate_limit=rate_limit, max_volume=max_volume
    )


# Restores from nearline storage


def restore_request(*, user, data_files):
    """Ask for the restore of the nearline `data_files` that are not available.

    Idempotent: a file with a pending or running restore is not requested again (the
    database allows one active request per file). Returns {file id: FileState}.
    """
    states = file_states(data_files)
    wanted = [
        RestoreRequest(data_file=data_file, requested_by=user)
        for data_file in data_files
        if states[data_file.pk].status in ("NEARLINE", RestoreRequest.Status.FAILED)
    ]
    RestoreRequest.objects.bulk_create(wanted, ignore_conflicts=True)
    return file_states(data_files) if wanted else states


def restore_claim(*, worker):
    """Claim the oldest pending restore for `worker`, or None: exactly one worker gets it."""
    while True:
        with transaction.atomic():
            pending = (
                RestoreRequest.objects.select_for_update(skip_locked=True)
                .filter(status=RestoreRequest.Status.PENDING)
                .order_by("requested", "id")
                .first()
            )
            if pending is None:
                return None
            # The conditional UPDATE keeps the claim exact where SKIP LOCKED does not exist.
            claimed = RestoreRequest.objects.filter(
                pk=pending.pk, status=RestoreRequest.Status.PENDING
            ).update(
                status=RestoreRequest.Status.RUNNING,
                started=timezone.now(),
                attempts=F("attempts") + 1,
                error=f"claimed by {worker}",
            )
        if claimed:
            return RestoreRequest.objects.select_related("data_file").get(pk=pending.pk)


def restore_run(*, restore):
    """Copy the file of a claimed request into its location's cache; DONE or FAILED."""
    data_file = restore.data_file
    location = get_location(data_file.storage)
    try:
        if location is None or not location.is_nearline:
            raise StorageError(f"location {data_file.storage!r} is not a nearline location")
        location.restore(data_file.storage_key)
    except (StorageError, OSError, ValueError) as error:
        logger.error("restore of %s failed: %s", data_file, error)
        RestoreRequest.objects.filter(pk=restore.pk).update(
            status=RestoreRequest.Status.FAILED,
            error=str(error)[:2000],
            finished=timezone.now(),
        )
        return False
    now = timezone.now()
    RestoreRequest.objects.filter(pk=restore.pk).update(
        status=RestoreRequest.Status.DONE,
        error="",
        finished=now,
        available_until=now + timedelta(hours=settings.RESTORE_AVAILABILITY_HOURS),
    )
    return True


def restore_retry(*, restores):
    """Put failed requests back in the queue (a file already queued again is skipped)."""
    retried = 0
    for restore in restores.filter(status=RestoreRequest.Status.FAILED):
        try:
            with transaction.atomic():
                retried += RestoreRequest.objects.filter(pk=restore.pk).update(
                    status=RestoreRequest.Status.PENDING, error="", started=None, finished=None
                )
        except IntegrityError:
            pass  # another request for this file is already pending
    return retried


def cache_purge(*, now=None):
    """Delete the cached copies whose restore has expired; returns the requests whose copy
    was deleted.

    A copy is kept while another restore of the same file is active or unexpired. On a
    local location a copy being streamed is safe: the open file outlives its unlinking.
    """
    now = now or timezone.now()
    expired = RestoreRequest.objects.filter(
        status=RestoreRequest.Status.DONE, available_until__lte=now, purged=False
    ).select_related("data_file")
    deleted = []
    for restore in expired:
        data_file = restore.data_file
        still_needed = RestoreRequest.objects.filter(data_file=data_file).filter(
            Q(status__in=RestoreRequest.ACTIVE)
            | Q(status=RestoreRequest.Status.DONE, available_until__gt=now)
        )
        location = get_location(data_file.storage)
        if not still_needed.exists() and location is not None and location.is_nearline:
            try:
                location.evict(data_file.storage_key)
            except (StorageError, OSError) as error:
                logger.error("purging the cached copy of %s failed: %s", data_file, error)
                continue
            deleted.append(restore)
        RestoreRequest.objects.filter(pk=restore.pk).update(purged=True)
    return deleted
