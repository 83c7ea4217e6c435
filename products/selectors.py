"""Reads for the search API: visible products and datasets, a page of results."""

import functools
import math
import re
import time

from django.db import connection
from django.db.models import F, Prefetch

from products.access import (
    downloadable_files_queryset,
    searchable_dataset_ids,
    visible_datasets,
)
from products.lucene import DATASETS, lucene_to_q
from products.models import Product

# Totals are counted exactly up to this many matches, as Elasticsearch's track_total_hits
# does by default; beyond, the page says how many it knows of (metadata.totalElementsExact).
TRACKED_TOTAL = 10_000
# A B-tree index whose first column is one product property, as index_property makes them.
PROPERTY_INDEX_LEADER = re.compile(r"USING btree \(\(\(properties -> '(\w+)'::text\)\)")


def product_search(*, user, q="", ordering=(), dataset=None):
    """Products the caller sees that match the Lucene query `q`, in a stable order, each with
    the files the caller may download (fetched in one more query when the products are)."""
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
    order = [_order_expression(name) for name in ordering] + ["id"]
    files = files.order_by("data_type", "id")
    return products.order_by(*order).prefetch_related(Prefetch("files", files))


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
    (fields `id` and `label`; bare words search the label)."""
    datasets = visible_datasets(user).select_related("license")
    datasets = datasets.filter(lucene_to_q(q, vocabulary=DATASETS))
    return datasets.order_by(*ordering, "label", "id")


class Page:
    """One page of a queryset, and the number of matches: exact up to TRACKED_TOTAL, else the
    number known to exist (`exact` is then False).

    The page is read first, with one row more than it shows: that row tells whether a next
    page exists, and the last page tells the total by itself. Only a full page with more
    behind it, or an empty page past the start, costs a count, which stops at
    TRACKED_TOTAL + 1 matches.

    `offset`, given instead of `number`, starts the page at any row (OpenSearch's
    startIndex need not fall on a whole number of pages).
    """

    def __init__(self, queryset, *, size, number=None, offset=None):
        if offset is None:
            offset = number * size
        else:
            number = offset // size
        self.number, self.size, self.offset = number, size, offset
        rows = list(queryset[offset : offset + size + 1])
        self.items = rows[:size]
        self.has_next = len(rows) > size
        known = offset + len(rows) if rows else 0  # matches known to exist
        if not self.has_next and (rows or offset == 0):
            self.total, self.exact = known, True  # the last page
        elif self.has_next and known > TRACKED_TOTAL:
            self.total, self.exact = known, False  # deeper than a count would go
        else:
            counted = self._count(queryset, offset)
            # At least the rows just read, should products have gone in between.
            self.total, self.exact = max(counted, known), counted <= TRACKED_TOTAL
        self.total_pages = math.ceil(self.total / size)

    def _count(self, queryset, offset):
        """The matches, counted up to TRACKED_TOTAL + 1."""
        if self.has_next and queryset.query.order_by == ("id",):
            # In id order, this page's last row ends the first offset + size matches: only
            # those after it are left to count (for page 400, 2,000 rows instead of 10,000).
            before = offset + self.size
            after = queryset.filter(id__gt=self.items[-1].id).order_by()
            return before + after[: TRACKED_TOTAL + 1 - before].count()
        return queryset.order_by()[: TRACKED_TOTAL + 1].count()  # in any order

    @property
    def has_previous(self):
        return 0 < self.number <= self.total_pages
