"""Writes about licences and restores (quotas have their own module, downloads.quotas)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from downloads.availability import file_states
from downloads.models import LicenseAcceptance, RestoreRequest
from regards_catalog.storage import get_location
from storage_client import RestoreState, StorageError

logger = logging.getLogger(__name__)


# Licences


def license_accept(*, user, license):
    """Record the user's acceptance of the current version (idempotent)."""
    acceptance, _ = LicenseAcceptance.objects.get_or_create(
        user=user, license=license, version=license.version
    )
    return acceptance


# Restores from nearline storage


def restore_request(*, user, data_files, retry_failed=True):
    """Ask for the restore of the nearline `data_files` that are not available, and of
    those whose last restore failed unless `retry_failed` is False.

    Idempotent: a file with a pending or running restore is not requested again (the
    database allows one active request per file). Returns {file id: FileState}.
    """
    states = file_states(data_files)
    restorable = {"NEARLINE", RestoreRequest.Status.FAILED} if retry_failed else {"NEARLINE"}
    wanted = [
        RestoreRequest(data_file=data_file, requested_by=user)
        for data_file in data_files
        if states[data_file.pk].status in restorable
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
    """Restore the file of a claimed request; returns its new status. DONE once the copy
    is readable, FAILED on an error; a location that restores in the background (s3) is
    asked once, and the request stays RUNNING until a poll finds the copy (restore_poll)."""
    data_file = restore.data_file
    location = get_location(data_file.storage)
    try:
        if location is None or not location.is_nearline:
            raise StorageError(f"location {data_file.storage!r} is not a nearline location")
        location.restore(data_file.storage_key, hours=settings.RESTORE_AVAILABILITY_HOURS)
        if location.restores_in_background:
            state = location.restore_state(data_file.storage_key)
        else:
            state = RestoreState(ready=True)
    except (StorageError, OSError, ValueError) as error:
        return _restore_failed(restore, error)
    return _restore_progressed(restore, state)


def restore_poll_claim(*, now=None):
    """Claim a restore running in the background that was due for a poll at `now`, or None:
    one worker polls it, and it is due again RESTORE_POLL_SECONDS later (after `now` even
    at 0 seconds: `process_restores --once` polls each restore once)."""
    now = now or timezone.now()
    due = RestoreRequest.objects.filter(
        status=RestoreRequest.Status.RUNNING, next_poll__lte=now
    ).order_by("next_poll", "id")
    for restore in due[:10]:
        # The conditional UPDATE makes the claim exact: only one worker moves next_poll on.
        claimed = RestoreRequest.objects.filter(
            pk=restore.pk, status=RestoreRequest.Status.RUNNING, next_poll=restore.next_poll
        ).update(next_poll=timezone.now() + timedelta(seconds=settings.RESTORE_POLL_SECONDS))
        if claimed:
            return RestoreRequest.objects.select_related("data_file").get(pk=restore.pk)
    return None


def restore_poll(*, restore):
    """Ask the storage whether a background restore is done; returns the request's status."""
    data_file = restore.data_file
    location = get_location(data_file.storage)
    try:
        if location is None or not location.is_nearline:
            raise StorageError(f"location {data_file.storage!r} is not a nearline location")
        state = location.restore_state(data_file.storage_key)
    except (StorageError, OSError, ValueError) as error:
        return _restore_failed(restore, error)
    return _restore_progressed(restore, state)


def _restore_progressed(restore, state):
    now = timezone.now()
    running = RestoreRequest.objects.filter(pk=restore.pk, status=RestoreRequest.Status.RUNNING)
    if not state.ready:
        running.update(next_poll=now + timedelta(seconds=settings.RESTORE_POLL_SECONDS))
        return RestoreRequest.Status.RUNNING
    # The storage's own expiry when it has one (S3's `Restore` header): the copy is gone
    # after it, whatever RESTORE_AVAILABILITY_HOURS says.
    until = state.until or now + timedelta(hours=settings.RESTORE_AVAILABILITY_HOURS)
    running.update(
        status=RestoreRequest.Status.DONE,
        error="",
        finished=now,
        available_until=until,
        next_poll=None,
    )
    return RestoreRequest.Status.DONE


def _restore_failed(restore, error):
    logger.error("restore of %s failed: %s", restore.data_file, error)
    RestoreRequest.objects.filter(pk=restore.pk).update(
        status=RestoreRequest.Status.FAILED,
        error=str(error)[:2000],
        finished=timezone.now(),
        next_poll=None,
    )
    return RestoreRequest.Status.FAILED


def restore_retry(*, restores):
    """Put failed requests back in the queue (a file already queued again is skipped)."""
    retried = 0
    for restore in restores.filter(status=RestoreRequest.Status.FAILED):
        try:
            with transaction.atomic():
                retried += RestoreRequest.objects.filter(pk=restore.pk).update(
                    status=RestoreRequest.Status.PENDING,
                    error="",
                    started=None,
                    finished=None,
                    next_poll=None,
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
