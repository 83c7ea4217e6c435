"""The files of a search that the caller may download, for the bulk downloads (a streamed
zip, a Metalink manifest; README "Bulk downloads"). The download checks of SPEC §4 run
over all the files at once, in a fixed number of queries, and before any byte is answered.
"""

import dataclasses
import posixpath
import re

from django.conf import settings

from downloads import checks, selectors
from downloads.availability import file_states
from downloads.exceptions import RestorePending, RestoreRequired, StorageUnavailable, TooManyFiles
from products.access import downloadable_files_queryset, file_access_dataset_ids
from products.models import DataFile
from regards_catalog.auth import request_user
from regards_catalog.exceptions import ApiError
from storage_client import Location

# Characters no archive path or Metalink name may hold: separators, controls, and those
# Windows refuses in a file name.
UNSAFE_IN_NAMES = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


@dataclasses.dataclass
class BulkFile:
    """One file of a bulk download: where it goes, and where it is read from or why not."""

    data_file: DataFile
    path: str  # in the zip, and the Metalink file name: <providerId>/<filename>
    location: Location | None = None  # None for a reference file, or a refused one
    refusal: ApiError | None = None  # why it cannot be read now (checks 8, 8b, 10)


def bulk_files(request, products):
    """The files of `products` (a queryset of products the caller sees: check 3) that the
    caller may download (check 5), in product then catalog order, each with its location or
    the refusal that leaves it out now (nearline, restoring, unknown location).

    400 `too_many_files` past BULK_MAX_FILES, 423 when a licence is missing (check 6, with
    `acceptLicense=true` as for one download). Quota (check 9) is taken file by file, as
    each one is downloaded. Four queries, whatever the number of files.
    """
    limit = settings.BULK_MAX_FILES
    files = downloadable_files_queryset(file_access_dataset_ids(request.user)).filter(
        product__in=products.order_by().values("pk")
    )
    files = files.select_related("product__dataset__license").order_by("product_id", "id")
    data_files = list(files[: limit + 1])
    if len(data_files) > limit:
        raise TooManyFiles(
            f"This search holds more than {limit} files: narrow it, with a more precise q "
            "(a dataset, a date range, a property), a g or box area, or product by product.",
            extra={"maxFiles": limit},
        )
    missing = selectors.licenses_to_accept(request_user(request), data_files)
    checks.licenses_accepted(request, missing)
    states = file_states(data_files)
    paths = set()
    selected = []
    for data_file in data_files:
        entry = BulkFile(data_file, unique_path(archive_path(data_file), paths))
        if not data_file.reference:
            try:
                entry.location = checks.readable_location(request, data_file, states[data_file.pk])
            except (RestoreRequired, RestorePending, StorageUnavailable) as refusal:
                entry.refusal = refusal
        selected.append(entry)
    return selected


def archive_path(data_file):
    """`<providerId>/<filename>`, each made a safe name."""
    return f"{safe_name(data_file.product.provider_id)}/{safe_name(data_file.filename)}"


def safe_name(name):
    """A name that is one path component everywhere: no separator, no control character,
    no leading dot (no `..`), never empty."""
    return UNSAFE_IN_NAMES.sub("_", name).strip(" .") or "_"


def unique_path(path, taken):
    """`path`, or `stem~2.ext`, `stem~3.ext`… when a file of the bulk already has it."""
    stem, extension = posixpath.splitext(path)
    candidate, number = path, 1
    while candidate.lower() in taken:  # case-insensitive file systems would merge them
        number += 1
        candidate = f"{stem}~{number}{extension}"
    taken.add(candidate.lower())
    return candidate
