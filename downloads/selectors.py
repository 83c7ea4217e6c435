"""Reads for the download-side API: licences and their acceptance, the products and files
a caller names."""

from django.shortcuts import get_object_or_404

from downloads import checks
from downloads.models import LicenseAcceptance
from products.access import downloadable_files, visible_products
from products.models import PRODUCT_URN, DataFile, License, Product
from regards_catalog.exceptions import InvalidRequest


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
    checks.metadata_access(user, product)
    return product


def downloadable_files_by_product(products, *, user):
    """{product pk: [its files the caller may download, in catalog order]}."""
    files = {product.pk: [] for product in products}
    all_files = DataFile.objects.filter(product__in=products).select_related("product")
    for data_file in downloadable_files(user, all_files.order_by("id")):
        files[data_file.product_id].append(data_file)
    return files
