"""Reads for the download-side API: licences and their acceptance, the products and files
a caller names."""

import dataclasses

from django.db.models import Exists, OuterRef, Value
from django.shortcuts import get_object_or_404

from downloads.models import LicenseAcceptance
from products.access import (
    dataset_access,
    dataset_access_flags,
    downloadable_files,
    visible_products,
)
from products.models import PRODUCT_URN, DataFile, License, Product
from regards_catalog.exceptions import InvalidRequest, access_denied


def license_or_404(slug):
    return get_object_or_404(License, slug=slug)


def license_is_accepted(*, user, license):
    """Has the user accepted the licence's current version?"""
    return LicenseAcceptance.objects.filter(
        user=user, license=license, version=license.version
    ).exists()


def accepted_versions(user):
    """{license id: set of versions} the user accepted; empty for anonymous callers."""
    if user is None:
        return {}
    versions = {}
    for license_id, version in LicenseAcceptance.objects.filter(user=user).values_list(
        "license_id", "version"
    ):
        versions.setdefault(license_id, set()).add(version)
    return versions


def is_accepted(license, versions):
    return license.version in versions.get(license.pk, ())


def visible_products_in_order(urns, *, user):
    """The products named by `urns` that the caller sees, in the order asked, once each."""
    urns = list(dict.fromkeys(urns))
    by_urn = {p.urn: p for p in visible_products(user).filter(urn__in=urns)}
    return [by_urn[urn] for urn in urns if urn in by_urn]


def visible_product(urn, *, user):
    """The product `urn`: 400 if malformed, 404 if unknown, 403/401 if the caller cannot see it."""
    if not PRODUCT_URN.fullmatch(urn):
        raise InvalidRequest("The product id is not a product URN.")
    product = get_object_or_404(Product, urn=urn)
    if not dataset_access(user, product.dataset_id)[0]:
        raise access_denied(user)
    return product


def downloadable_files_by_product(products, *, user):
    """{product pk: [its files the caller may download, in catalog order]}."""
    files = {product.pk: [] for product in products}
    all_files = DataFile.objects.filter(product__in=products).select_related("product")
    for data_file in downloadable_files(user, all_files.order_by("id")):
        files[data_file.product_id].append(data_file)
    return files


@dataclasses.dataclass(frozen=True)
class RequestedFile:
    """What the download checks need to know of the file a caller asks for."""

    product: Product | None  # None: no such product
    data_file: DataFile | None  # None: the product has no file with that checksum
    sees: bool  # the caller sees the product (FULL_ACCESS on its dataset)
    downloads_private: bool  # ... and may download its private files
    license_accepted: bool  # the caller accepted the current version of its licence
    project_license_pending: bool  # a project licence is set and the caller has not accepted it


def requested_file(*, user, urn, checksum):
    """The file `checksum` of the product `urn`, with its product, dataset and licence, the
    caller's rights on them, and whether the caller accepted that licence and the project
    licence: one query for a file that exists (every download pays it), one more when it
    does not (so the checks can say what is missing).

    Checksums match in any case: REGARDS writes MD5s in upper case, the catalog import
    stores them in lower case.
    """
    files = DataFile.objects.filter(product__urn=urn, checksum__iexact=checksum)
    data_file = (
        files.select_related("product__dataset__license")
        .annotate(
            **dataset_access_flags(user, OuterRef("product__dataset_id")),
            caller_accepted=_accepted(user, "product__dataset__license"),
            project_license_pending=_project_license_pending(user),
        )
        .order_by("id")
        .first()
    )
    if data_file is not None:
        product = data_file.product
    else:
        product = (
            Product.objects.filter(urn=urn)
            .select_related("dataset__license")
            .annotate(
                **dataset_access_flags(user, OuterRef("dataset_id")),
                caller_accepted=_accepted(user, "dataset__license"),
                project_license_pending=_project_license_pending(user),
            )
            .first()
        )
        if product is None:
            return RequestedFile(None, None, False, False, False, False)
    flags = data_file if data_file is not None else product
    return RequestedFile(
        product,
        data_file,
        flags.caller_sees,
        flags.caller_downloads_private,
        flags.caller_accepted,
        flags.project_license_pending,
    )


def _accepted(user, license_path):
    """An annotation: has the user accepted the current version of the licence at
    `license_path`? Always False for anonymous callers, who cannot accept."""
    if user is None or not user.is_authenticated:
        return Value(False)
    return Exists(
        LicenseAcceptance.objects.filter(
            user=user,
            license_id=OuterRef(f"{license_path}_id"),
            version=OuterRef(f"{license_path}__version"),
        )
    )


def _project_license_pending(user):
    """An annotation: is a project licence set that the user has not accepted (its current
    version)? Always True, when one is set, for anonymous callers."""
    pending = License.objects.filter(project=True)
    if user is not None and user.is_authenticated:
        pending = pending.exclude(
            Exists(
                LicenseAcceptance.objects.filter(
                    user=user, license_id=OuterRef("pk"), version=OuterRef("version")
                )
            )
        )
    return Exists(pending)


def project_license():
    """The licence marked as the project's, or None."""
    return License.objects.filter(project=True).first()


def licenses_to_accept(user, data_files):
    """The licences the caller (a user, or None) must still accept, in their current
    version, to download the private files among `data_files` (loaded with their dataset's
    licence): the project licence first, then each dataset's once. Two queries in all."""
    private = [data_file for data_file in data_files if not data_file.is_public_type]
    if not private:
        return []
    needed = {}
    project = project_license()
    if project is not None:
        needed[project.pk] = project
    for data_file in private:
        license = data_file.product.dataset.license
        if license is not None:
            needed.setdefault(license.pk, license)
    versions = accepted_versions(user)
    return [license for license in needed.values() if not is_accepted(license, versions)]
