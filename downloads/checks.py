"""The download checks of SPEC §4, one function per row, called in order by the view.

Check 1 (a bad or expired token → 401) is done by DRF's authentication before any of
these run. Each check either returns what the next one needs or raises its error.
"""

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

import storage_client
from downloads import quotas, selectors, services
from downloads.availability import file_states
from downloads.exceptions import (
    LicenseNotAccepted,
    RestorePending,
    RestoreRequired,
    StorageUnavailable,
    storage_error_to_api,
)
from downloads.transfers import check_catalog_size
from products.models import CHECKSUM, PRODUCT_URN
from regards_catalog.auth import client_address, request_user, token_authenticated
from regards_catalog.exceptions import Forbidden, InvalidRequest, NotFound, access_denied
from regards_catalog.links import base_url
from regards_catalog.storage import get_location

logger = logging.getLogger(__name__)


def query_flag(request, name):
    """A `?name=true` switch of the download URL (any case of "true")."""
    return request.query_params.get(name, "").lower() == "true"


def product_exists(user, aip_id, checksum, *, address=None):
    """2. A well-formed product id and checksum, naming a product that exists.

    Returns the RequestedFile the next checks read: the file (if the product has it), its
    product, dataset and licence, the caller's rights on them and the caller's quota
    (`address`: an anonymous caller's), in one query.
    """
    if not PRODUCT_URN.fullmatch(aip_id):
        raise InvalidRequest("The product id is not a product URN.", extra={"id": aip_id[:200]})
    if not CHECKSUM.fullmatch(checksum):
        raise InvalidRequest("The checksum is not hexadecimal.")
    requested = selectors.requested_file(user=user, urn=aip_id, checksum=checksum, address=address)
    if requested.product is None:
        raise NotFound(f"No product {aip_id}.")
    return requested


def metadata_access(user, requested):
    """3. The caller sees the product (FULL_ACCESS on its dataset through one of its groups)."""
    if not requested.sees:
        raise access_denied(user)


def file_exists(requested, checksum):
    """4. The product holds a file with that checksum (in either case)."""
    if requested.data_file is None:
        raise NotFound(f"Product {requested.product.urn} has no file with checksum {checksum}.")
    return requested.data_file


def file_access(requested):
    """5. A private file needs a group with INHERITED_ACCESS on the dataset."""
    if not requested.data_file.is_public_type and not requested.downloads_private:
        raise Forbidden("You may see this product but not download its files.")


def license_accepted(request, requested):
    """6. A private file needs the caller's acceptance of the current version of the project
    licence, when one is set, and of its dataset's licence, when it has one.
    `acceptLicense=true` records both for a token caller only."""
    data_file = requested.data_file
    if data_file.is_public_type:
        return
    missing = []
    if requested.project_license_pending:
        # None if a steward unmarked it since the query above: then nothing is missing.
        missing.append(selectors.project_license())
    license = data_file.product.dataset.license
    if license is not None and not requested.license_accepted:
        missing.append(license)
    licenses_accepted(request, [license for license in missing if license is not None])


def licenses_accepted(request, missing):
    """6, for the licences `missing` (the project licence first): none, or all accepted now
    by a token caller's `acceptLicense=true`; else 423 naming the first. The bulk downloads
    ask it once for the licences of all their files."""
    if not missing:
        return
    user = request.user
    if user.is_authenticated:
        # A browser session would accept through any link, even one on another site.
        if query_flag(request, "acceptLicense") and token_authenticated(request):
            for license in missing:
                services.license_accept(user=user, license=license)
            return
        # The project licence first: a browser then comes back here for the dataset's.
        license = missing[0]
        message = f'Accept the licence "{license.title}" (version {license.version}) first.'
    else:
        license = missing[0]
        message = (
            "Private files of this catalog need its licence accepted by a logged-in user."
            if license.project
            else "Files of this dataset need a licence accepted by a logged-in user."
        )
    license_page = base_url(request) + reverse("license-page", args=[license.slug])
    raise LicenseNotAccepted(
        message,
        extra={
            "license": license_page,
            "accept": _accept_license_url(request, license_page),
            "version": license.version,
        },
    )


def _accept_license_url(request, license_page):
    """This download URL with acceptLicense=true (and never the caller's token), for a
    token caller; for a browser, session or anonymous, the licence page, whose Accept button
    (a CSRF-checked POST, after logging in) leads back to the download."""
    query = request.GET.copy()
    query.pop("token", None)
    if not token_authenticated(request):
        query.pop("acceptLicense", None)
        download = request.path + ("?" + query.urlencode() if query else "")
        return license_page + "?" + urlencode({"next": download})
    query["acceptLicense"] = "true"
    return base_url(request) + request.path + "?" + query.urlencode()


def readable_location(request, data_file, state=None):
    """8 and 8b. The file's location exists and, if nearline, holds a restored copy.
    `state`: the file's FileState, when the caller read those of many files at once."""
    location = get_location(data_file.storage)
    if location is None:
        logger.error("file %s names unknown storage location %r", data_file.pk, data_file.storage)
        raise StorageUnavailable()
    if not location.is_nearline:
        return location
    state = state or file_states([data_file])[data_file.pk]
    if state.restoring:
        raise RestorePending(headers={"Retry-After": str(settings.RESTORE_RETRY_AFTER)})
    if not state.available:
        raise RestoreRequired(
            extra={
                "restore": base_url(request) + reverse("restore"),
                "product_ids": [data_file.product.urn],
            }
        )
    return location


def quota_available(request, data_file, *, start, length, quota=None):
    """9 and 9b. Download count, volume (the `length` bytes of the range must fit) and
    simultaneous-download limits, checked without taking anything: the slot is taken and
    the download counted once the storage has answered (`Transfer.begin`), under the
    quota row's lock, where these limits are checked again. `quota`: the caller's, when
    check 2 read it.

    Returns the quota Claim of this download, or None for public file types, which need
    no quota.
    """
    if data_file.is_public_type:
        return None
    caller = {"user": request_user(request), "address": client_address(request)}
    counts = quotas.counts_as_download(**caller, data_file=data_file, start=start)
    return quotas.quota_check(**caller, counts=counts, length=length, quota=quota)


def storage_holds(data_file, location):
    """10, for HEAD. The storage holds the file, at its catalog size: HEAD answers what GET
    would, without opening the bytes (a stat locally, a HEAD on an http location)."""
    try:
        check_catalog_size(data_file, location.stat(data_file.storage_key))
    except storage_client.StorageError as error:
        logger.error("storage cannot serve %s: %s", data_file, error)
        raise storage_error_to_api(error) from error
