"""Is a file available now? Online files always; nearline files while a restored copy
sits in the cache, until the expiry of the restore that put it there (SPEC §3)."""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from downloads.exceptions import storage_error_to_api
from downloads.models import RestoreRequest
from regards_catalog.storage import get_location
from storage_client import StorageError

Status = RestoreRequest.Status


@dataclass(frozen=True)
class FileState:
    # ONLINE, AVAILABLE (restored copy), NEARLINE (restore needed), PENDING, RUNNING,
    # FAILED (last restore failed), UNKNOWN_LOCATION (misconfigured).
    status: str
    expiration: datetime | None = None
    error: str = ""

    @property
    def available(self):
        return self.status in ("ONLINE", "AVAILABLE")

    @property
    def restoring(self):
        return self.status in (Status.PENDING, Status.RUNNING)


def file_states(data_files):
    """{file id: FileState} for `data_files`, with one query for their restore requests."""
    now = timezone.now()
    nearline = []
    states = {}
    for data_file in data_files:
        location = None if data_file.reference else get_location(data_file.storage)
        if data_file.reference or (location is not None and not location.is_nearline):
            states[data_file.pk] = FileState("ONLINE")
        elif location is None:
            states[data_file.pk] = FileState("UNKNOWN_LOCATION")
        else:
            nearline.append((data_file, location))
    latest = _latest_requests([data_file.pk for data_file, _ in nearline], now)
    for data_file, location in nearline:
        states[data_file.pk] = _nearline_state(data_file, location, latest.get(data_file.pk), now)
    return states


def _latest_requests(file_ids, now):
    """{file id: the request that decides its state}: active first, then the latest."""
    latest = {}
    requests = RestoreRequest.objects.filter(data_file_id__in=file_ids).order_by("-requested")
    for request in requests:
        current = latest.get(request.data_file_id)
        if current is None or (
            request.status in RestoreRequest.ACTIVE and current.status not in RestoreRequest.ACTIVE
        ):
            latest[request.data_file_id] = request
    return latest


def _nearline_state(data_file, location, request, now):
    if request is None:
        return FileState("NEARLINE")
    if request.status in RestoreRequest.ACTIVE:
        return FileState(request.status)
    if request.status == Status.FAILED:
        return FileState(Status.FAILED, error=request.error)
    if request.available_until > now and _is_cached(location, data_file):
        return FileState("AVAILABLE", expiration=request.available_until)
    return FileState("NEARLINE")


def _is_cached(location, data_file):
    try:
        return location.is_cached(data_file.storage_key)
    except StorageError as error:  # an http location's storage may be down
        raise storage_error_to_api(error) from error
