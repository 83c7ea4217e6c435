"""Reads for the search API: visible products and datasets, a page of results."""

import functools
import math
import operator
import re
import time

from django.db import connection
from django.db.models import Exists, F, OuterRef, Prefetch, Q
from django.db.models.fields.json import HasKey

from products import spatial
from products.access import (
    dataset_access_flags,
    downloadable_files_queryset,
    searchable_dataset_ids,
    visible_datasets,
)
from products.exceptions import InvalidQuery
from products.lucene import DATASETS, lucene_to_q
from products.models import DataFile, Dataset, Product

IMAGE_TYPES = [
    DataFile.DataType.QUICKLOOK_SD,
    DataFile.DataType.QUICKLOOK_MD,
    DataFile.DataType.QUICKLOOK_HD,
    DataFile.DataType.THUMBNAIL,
]
# Totals are counted exactly up to this many matches, as Elasticsearch's track_total_hits
# does by default; beyond, the page says how many it knows of (metadata.totalElementsExact).
TRACKED_TOTAL = 10_000
# A B-tree index whose first column is one product property, as index_property makes them.
PROPERTY_INDEX_LEADER = re.compile(r"USING btree \(\(\(properties -> '(\w+)'::text\)\)")


def product_search(*, user, q="", ordering=(), dataset=None, shapes=(), exists=(), has_image=None):
    """Products the caller sees that match the Lucene query `q`, in a stable order, each with
    the files the caller may download (fetched in one more query when the products are).

    `shapes` (products.spatial): only products whose geometry intersects each; `exists`: property
    names the products must have; `has_image`: with (True) or without (False) a quicklook
    or thumbnail."""
    seen, downloadable = searchable_dataset_ids(user)
    files = downloadable_files_queryset(downloadable)
    products = Product.objects.all()
    if seen is not None:
        # Ids, not a subquery: the planner can then tell how many products they hold. It
        # guesses a subquery keeps 0.5 % of the rows, and sorts a million of them for a
        # deep page instead of walking the primary key.
        products = products.filter(dataset_id__in=seen)
    products = products.filter(
        lucene_to_q(q, files=files, btree_properties=property_index_leaders())
    )
    if dataset is not None:
        products = products.filter(dataset=dataset)
    for name in exists:
        products = products.filter(HasKey(F("properties"), name))
    if has_image is not None:
        images = DataFile.objects.filter(data_type__in=IMAGE_TYPES, product=OuterRef("pk"))
        products = products.filter(Exists(images) if has_image else ~Exists(images))
    for shape in shapes:
        # Last: the exact test then runs on the fewest candidates.
        products = spatial.filter_intersecting(products, shape)
    order = [_order_expression(name) for name in ordering] + ["id"]
    files = files.order_by("data_type", "id")
    return (
        products.order_by(*order)
        .defer("footprint")  # the spatial filters' own copy of `geometry`: never shown
        .select_related("dataset")
        .prefetch_related(Prefetch("files", files))
    )


def last_versions(products):
    """The URNs among `products` of which the catalog holds no higher version."""
    bases = {product.urn.rpartition(":V")[0] for product in products}
    if not bases:
        return set()
    prefixes = functools.reduce(operator.or_, (_urn_prefix(f"{base}:V") for base in sorted(bases)))
    highest = {}
    for urn in Product.objects.filter(prefixes).values_list("urn", flat=True):
        base, _, version = urn.rpartition(":V")
        if base in bases:
            highest[base] = max(highest.get(base, 0), int(version))
    return {
        product.urn
        for product in products
        if product.version >= highest.get(product.urn.rpartition(":V")[0], 0)
    }


def _urn_prefix(prefix):
    """The URNs starting with `prefix`, as the unique index on urn can find them."""
    if connection.vendor == "postgresql":
        return Q(urn__startswith=prefix)  # LIKE 'p%', served by Django's varchar_pattern_ops index
    # SQLite's LIKE ignores case and skips the index; its binary order keeps a prefix's strings
    # between the prefix and the prefix with its last character raised.
    return Q(urn__gte=prefix, urn__lt=prefix[:-1] + chr(ord(prefix[-1]) + 1))


def property_index_leaders():
    """The product properties that lead a B-tree index (index_property), as PostgreSQL listed
    them at most a minute ago: an index made meanwhile by another process is used from then
    on (the results are the same either way). Empty on SQLite."""
    return _property_index_leaders(time.monotonic() // 60)


@functools.lru_cache(maxsize=1)
def _property_index_leaders(minute):
    if connection.vendor != "postgresql":
        return frozenset()
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'products_product'")
        matches = [PROPERTY_INDEX_LEADER.search(definition) for (definition,) in cursor]
    return frozenset(match[1] for match in matches if match)


def property_indexes_changed():
    """Read the list of property indexes again at the next search (after index_property)."""
    _property_index_leaders.cache_clear()


def _order_expression(name):
    if "properties__" not in name:
        return name
    field = F(name.lstrip("-"))
    return field.desc(nulls_last=True) if name.startswith("-") else field.asc(nulls_last=True)


def dataset_search(*, user, q="", ordering=()):
    """Datasets the caller sees (restricted or full access) matching the Lucene query `q`
    (fields `id` and `label`; bare words search the label), each annotated with whether the
    caller sees its products (`caller_sees`) and downloads their private files
    (`caller_downloads_private`), in the same query."""
    datasets = visible_datasets(user).select_related("license")
    datasets = datasets.annotate(**dataset_access_flags(user, OuterRef("pk")))
    datasets = datasets.filter(lucene_to_q(q, vocabulary=DATASETS))
    return datasets.order_by(*ordering, "label", "id")


def datasets_of_products(*, user, products, ordering=()):
    """The datasets the caller sees that hold at least one of `products`, annotated as
    dataset_search annotates them."""
    held = Exists(products.order_by().filter(dataset=OuterRef("pk")))
    return dataset_search(user=user, ordering=ordering).filter(held)


def entity_datasets(*, user, q=""):
    """The datasets an entities search shows: those dataset_search finds, or none when `q`
    names product fields (a dataset has no properties, tags or files to match)."""
    try:
        return dataset_search(user=user, q=q)
    except InvalidQuery:  # the products' translation of `q` has already accepted it
        return Dataset.objects.none()


class Page:
    """One page of a queryset, and the number of matches: exact up to `tracked` (default
    TRACKED_TOTAL), else the number known to exist (`exact` is then False).

    The page is read first, with one row more than it shows: that row tells whether a next
    page exists, and the last page tells the total by itself. Only a full page with more
    behind it, or an empty page past the start, costs a count, which stops at
    `tracked` + 1 matches.

    `offset`, given instead of `number`, starts the page at any row (OpenSearch's
    startIndex need not fall on a whole number of pages).
    """

    def __init__(self, queryset, *, size, number=None, offset=None, limit=None, tracked=None):
        """`limit` reads another number of rows than `size` (EntityPage)."""
        if offset is None:
            offset = number * size
        elif number is None:
            number = offset // size
        limit = size if limit is None else limit
        self.tracked = TRACKED_TOTAL if tracked is None else tracked
        self.number, self.size, self.offset = number, size, offset
        rows = list(queryset[offset : offset + limit + 1])
        self.items = rows[:limit]
        self.has_next = len(rows) > limit
        known = offset + len(rows) if rows else 0  # matches known to exist
        if not self.has_next and (rows or offset == 0):
            self.total, self.exact = known, True  # the last page
        elif self.has_next and known > self.tracked:
            self.total, self.exact = known, False  # deeper than a count would go
        else:
            counted = self._count(queryset, offset, limit)
            # At least the rows just read, should products have gone in between.
            self.total, self.exact = max(counted, known), counted <= self.tracked
        self.total_pages = math.ceil(self.total / size)

    def _count(self, queryset, offset, limit):
        """The matches, counted up to `tracked` + 1."""
        if self.has_next and self.items and queryset.query.order_by == ("id",):
            # In id order, this page's last row ends the first offset + limit matches: only
            # those after it are left to count (for page 400, 2,000 rows instead of 10,000).
            before = offset + limit
            after = queryset.filter(id__gt=self.items[-1].id).order_by()
            return before + after[: self.tracked + 1 - before].count()
        return queryset.order_by()[: self.tracked + 1].count()  # in any order

    @property
    def has_previous(self):
        return 0 < self.number <= self.total_pages


class EntityPage:
    """A page of REGARDS "entities": the datasets first (few, counted exactly), then the
    products, counted as Page counts them. `datasets` and `products` are this page's."""

    def __init__(self, datasets, products, *, number, size):
        self.number, self.size = number, size
        offset = number * size
        dataset_total = datasets.count()
        self.datasets = list(datasets[offset : offset + size]) if offset < dataset_total else []
        page = Page(
            products,
            number=number,
            size=size,
            offset=max(0, offset - dataset_total),
            limit=size - len(self.datasets),
        )
        self.products = page.items
        self.total, self.exact = dataset_total + page.total, page.exact
        self.has_next = page.has_next or offset + size < dataset_total
        self.total_pages = math.ceil(self.total / size)

    @property
    def has_previous(self):
        return 0 < self.number <= self.total_pages
