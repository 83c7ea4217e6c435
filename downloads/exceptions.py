"""Download errors with their stable codes (SPEC §4 check table), and the one place
where storage_client's exceptions become HTTP answers."""

import storage_client
from regards_catalog.exceptions import ApiError


class LicenseNotAccepted(ApiError):
    status_code = 423
    default_code = "license_not_accepted"
    default_detail = "Accept the dataset's licence before downloading its files."


class RestoreRequired(ApiError):
    status_code = 409
    default_code = "restore_required"
    default_detail = (
        'This file is on nearline storage: POST {"product_ids": [...]} to the restore link first.'
    )


class RestorePending(ApiError):
    status_code = 503
    default_code = "restore_pending"
    default_detail = "This file is being restored from nearline storage; try again later."


class QuotaExceeded(ApiError):
    status_code = 429
    default_code = "quota_exceeded"
    default_detail = "Your download quota is used up until the next reset."


class RateLimited(ApiError):
    status_code = 429
    default_code = "rate_limited"
    default_detail = "Too many simultaneous downloads; try again when one has finished."


class RangeNotSatisfiableError(ApiError):
    status_code = 416
    default_code = "range_not_satisfiable"
    default_detail = "The requested range lies outside the file."


class StorageUnavailable(ApiError):
    status_code = 502
    default_code = "storage_unavailable"
    default_detail = "The storage holding this file cannot be reached; try again later."


class StorageFileMissing(ApiError):
    status_code = 502
    default_code = "storage_file_missing"
    default_detail = "The storage does not hold this file; the archive team has been told."


class StorageCorrupt(ApiError):
    status_code = 502
    default_code = "storage_corrupt"
    default_detail = (
        "The storage's copy of this file does not match its checksum; the archive team "
        "has been told. Nothing was counted."
    )


class DigestMismatch(storage_client.StorageUnavailable):
    """The bytes a storage sent do not match the file's checksum (found by the relay)."""


def storage_error_to_api(error):
    """Map a storage_client exception to its download error (SPEC §4 check 10)."""
    if isinstance(error, storage_client.StorageFileNotFound):
        return StorageFileMissing()
    if isinstance(error, DigestMismatch):
        return StorageCorrupt()
    return StorageUnavailable()


class TooManyFiles(ApiError):
    status_code = 400
    default_code = "too_many_files"
    default_detail = "This search holds too many files for one bulk download."
