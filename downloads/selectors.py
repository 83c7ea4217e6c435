"""Reads for the download-side API: licences and their acceptance, the products and files
a caller names."""

import dataclasses
import functools

from django.db import connection
from django.shortcuts import get_object_or_404

from downloads import quotas
from downloads.models import LicenseAcceptance, Quota
from products.access import dataset_access, downloadable_files, visible_products
from products.models import (
    PRODUCT_URN,
    AccessGroup,
    AccessRight,
    DataFile,
    Dataset,
    License,
    Product,
)
from regards_catalog import sql
from regards_catalog.exceptions import InvalidRequest, access_denied
from regards_catalog.roles import sees_everything
from regards_catalog.sql import Columns, column, table


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
    quota: Quota | None  # the caller's, with the default limits (None: none yet)


def requested_file(*, user, urn, checksum, address=None):
    """The file `checksum` of the product `urn`, with its product, dataset and licence, the
    caller's rights on them, whether the caller accepted that licence and the project
    licence, and the caller's quota (check 9 reads it; `address` names an anonymous
    caller's): one statement, whether the product and the file exist or not (so the checks
    can say what is missing).

    Every download runs it, so it is written by hand (`_requested_file_sql`): the ORM spent
    more CPU building the equivalent query than the database spent answering it. The rules
    are those of `products.access.dataset_access` and of `license_is_accepted`;
    tests/downloads/test_requested_file.py holds the two to the same answers.

    Checksums match in any case: REGARDS writes MD5s in upper case, the catalog import
    stores them in lower case.
    """
    authenticated = user is not None and user.is_authenticated
    quota_key, quota_owner = quotas.quota_owner(user if authenticated else None, address)
    params = {
        "urn": urn,
        "checksum": checksum,
        "user": user.pk if authenticated else None,
        "everything": sees_everything(user) if user is not None else False,
        "full": AccessRight.MetadataAccess.FULL_ACCESS,
        "inherited": AccessRight.FileAccess.INHERITED_ACCESS,
        "quota_owner": quota_owner,
    }
    with connection.cursor() as cursor:
        sql.execute(cursor, _requested_file_sql(quota_key), params)
        row = cursor.fetchone()
    if row is None:
        return RequestedFile(None, None, False, False, False, False, None)
    values = iter(row)
    parts = {}
    for name, columns in _REQUESTED_COLUMNS.items():
        part = [next(values) for _ in range(len(columns))]
        parts[name] = columns.instance(part) if part[0] is not None else None
    sees, downloads_private, accepted, project_pending = (bool(next(values)) for _ in range(4))
    quota = quotas.quota_from_row(list(values))
    product, data_file = parts["product"], parts["file"]
    product.dataset = parts["dataset"]
    product.dataset.license = parts["license"]
    if data_file is not None:
        data_file.product = product
    return RequestedFile(
        product, data_file, sees, downloads_private, accepted, project_pending, quota
    )


_REQUESTED_COLUMNS = {
    "product": Columns(Product, "p"),
    "dataset": Columns(Dataset, "d"),
    "license": Columns(License, "l"),
    "file": Columns(DataFile, "f"),
}


@functools.cache
def _requested_file_sql(quota_key):
    """The statement of `requested_file`, the caller's quota found by `quota_key`. A group
    grants rights to its members, or to everyone when public; an anonymous caller (user
    NULL) is a member of none and has accepted nothing."""
    rights = f"""
        SELECT 1 FROM {table(AccessRight)} r
        JOIN {table(AccessGroup)} g ON g.id = r.{column(AccessRight, "group")}
        WHERE r.{column(AccessRight, "dataset")} = p.{column(Product, "dataset")}
          AND r.{column(AccessRight, "metadata_access")} = %(full)s
          AND (g.{column(AccessGroup, "public")} OR EXISTS (
              SELECT 1 FROM {table(AccessGroup.members.through)} m
              WHERE m.{column(AccessGroup.members.through, "accessgroup")} = g.id
                AND m.{column(AccessGroup.members.through, "user")} = %(user)s))"""
    acceptance = table(LicenseAcceptance)
    accepted_by_caller = f"""
        SELECT 1 FROM {acceptance} a
        WHERE a.{column(LicenseAcceptance, "user")} = %(user)s
          AND a.{column(LicenseAcceptance, "license")} = {{license}}.id
          AND a.{column(LicenseAcceptance, "version")} = {{license}}.{column(License, "version")}"""
    columns = ", ".join(columns.sql for columns in _REQUESTED_COLUMNS.values())
    return f"""
        SELECT {columns},
          %(everything)s OR EXISTS ({rights}),
          %(everything)s OR EXISTS ({rights}
              AND r.{column(AccessRight, "file_access")} = %(inherited)s),
          EXISTS ({accepted_by_caller.format(license="l")}),
          EXISTS (SELECT 1 FROM {table(License)} pl
                  WHERE pl.{column(License, "project")}
                    AND NOT EXISTS ({accepted_by_caller.format(license="pl")})),
          caller_quota.*
        FROM {table(Product)} p
        JOIN {table(Dataset)} d ON d.id = p.{column(Product, "dataset")}
        LEFT JOIN {table(License)} l ON l.id = d.{column(Dataset, "license")}
        LEFT JOIN {table(DataFile)} f ON f.{column(DataFile, "product")} = p.id
          AND UPPER(f.{column(DataFile, "checksum")}) = UPPER(%(checksum)s)
        LEFT JOIN ({quotas.quota_sql(quota_key, "%(quota_owner)s")}) caller_quota ON 1 = 1
        WHERE p.{column(Product, "urn")} = %(urn)s
        ORDER BY f.id
        LIMIT 1"""


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
