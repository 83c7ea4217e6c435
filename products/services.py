"""Writes behind the management commands: users for the catalog, files into storage."""

import hashlib
import os

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import F, Max, Min
from django.db.models.functions import Coalesce

from products.access import STEWARD_GROUP
from products.lucene import PROPERTY_NAME
from products.models import AccessGroup, Dataset, Product
from products.selectors import property_indexes_changed
from products.stac import collection_summaries
from storage_client import CHUNK_SIZE, LocalLocation


@transaction.atomic
def user_upsert(*, email, password=None, groups=(), steward=False):
    """Create or update the user `email`; groups and steward rights are added, never removed.

    Raises ValidationError, before writing anything, for a bad email or an unknown group.
    """
    email = BaseUserManager.normalize_email(email.strip())
    validate_email(email)
    groups = list(dict.fromkeys(groups))
    access_groups = list(AccessGroup.objects.filter(name__in=groups))
    unknown = sorted(set(groups) - {group.name for group in access_groups})
    if unknown:
        raise ValidationError(f"unknown access group(s): {', '.join(unknown)}")

    User = get_user_model()
    # Users are identified by their email (SPEC §4), as regards_catalog.auth does.
    user = (
        User.objects.filter(email__iexact=email).order_by("id").first()
        or User.objects.filter(username=email).first()
    )
    if user is None:
        user = User(username=email)
        user.set_unusable_password()
    user.email = user.email or email
    if password is not None:
        user.set_password(password)
    if steward:
        user.is_staff = True
    user.save()
    user.access_groups.add(*access_groups)
    if steward:
        user.groups.add(Group.objects.get_or_create(name=STEWARD_GROUP)[0])
    return user


def file_md5(path):
    """Hex MD5 of a file, read in chunks so that memory stays flat whatever its size."""
    digest = hashlib.md5()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def file_store(*, path, location, key=None):
    """Copy a local file into a local storage location under `key` (default: its MD5).

    Returns the MD5. Raises ValueError for a location that cannot be written from here,
    OSError for an unreadable file, storage_client errors for a bad key.
    """
    if not isinstance(location, LocalLocation):
        raise ValueError(f"location {location.name!r} is not a local folder: cannot store into it")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is not a file")
    checksum = file_md5(path)
    location.store(path, key or checksum)
    return checksum


def property_index_name(names):
    return ("products_product_prop_" + "__".join(name.lower() for name in names))[:63]


def property_types_statistics_name(name):
    return f"products_product_type_{name.lower()}"[:63]


def property_index_create(*, names, drop=False):
    """Create (or drop) one B-tree index on product properties, in the order given, for range
    and equality queries on them (`properties.<name>:<5`, `properties.<a>:x AND
    properties.<b>:<5`). PostgreSQL only: the GIN index on `properties` serves equality, not
    ranges, and indexing every property up front would be waste.
    """
    for name in names:
        if not PROPERTY_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a property name")
    if len(set(names)) != len(names):
        raise ValueError("a property is named twice")
    if connection.vendor != "postgresql":
        raise ValueError("property indexes are for PostgreSQL; SQLite scans instead")
    index = property_index_name(names)
    statistics = [property_types_statistics_name(name) for name in names]
    with connection.cursor() as cursor:
        if drop:
            cursor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{index}"')
        else:
            # Each comparison is guarded by the value's JSON type (lucene.py, cql2.py: a
            # string is not below a number). Without statistics on that guard the planner
            # guesses it keeps 0.5 % of the rows, expects a handful of matches where there
            # are thousands, and sorts them all rather than walk the id order for a page.
            for name, statistic in zip(names, statistics, strict=True):
                cursor.execute(
                    f'CREATE STATISTICS IF NOT EXISTS "{statistic}" '
                    "ON (COALESCE(jsonb_typeof(properties -> %s), '')) FROM products_product",
                    [name],
                )
            # The same expressions as the queries lucene.py writes (`properties -> 'name'`),
            # so the planner uses them. `id` last: an equality on every property reads the
            # matches in id order, the default sort. CONCURRENTLY keeps the catalog
            # searchable while a big table is indexed.
            columns = ", ".join(["(properties -> %s)"] * len(names) + ["id"])
            create = f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{index}" ON products_product'
            cursor.execute(f"{create} ({columns})", names)
            # Statistics on the new expressions: without them the planner guesses their
            # selectivity and may leave the index unused.
            cursor.execute("ANALYZE products_product")
    property_indexes_changed()  # this process writes its equalities for it at once
    return index


def dataset_summarize(*, dataset):
    """Store the extent and summaries of the dataset's products, as of the products_version
    read first: a product changed meanwhile leaves the dataset stale, to be done again."""
    version = Dataset.objects.values_list("products_version", flat=True).get(pk=dataset.pk)
    products = Product.objects.filter(dataset_id=dataset.pk)
    extent = products.aggregate(
        extent_west=Min("bbox_west"),
        extent_south=Min("bbox_south"),
        extent_east=Max("bbox_east"),
        extent_north=Max("bbox_north"),
        extent_start=Min("start_date"),
        extent_end=Max(Coalesce("end_date", "start_date")),
    )
    Dataset.objects.filter(pk=dataset.pk).update(
        **extent, summaries=collection_summaries(products), summarized_version=version
    )


def datasets_summarize_stale(*, datasets):
    """Summarize those of `datasets` whose products changed since they last were; the number
    done. Nothing but one query when none did."""
    stale = list(datasets.exclude(summarized_version=F("products_version")).order_by("pk"))
    for dataset in stale:
        dataset_summarize(dataset=dataset)
    return len(stale)
