"""Reads for the search API: visible products and datasets, a page of results."""

import math

from django.db.models import F, Prefetch

from products.access import (
    downloadable_files_queryset,
    visible_datasets,
    visible_products,
)
from products.lucene import DATASETS, lucene_to_q


def product_search(*, user, q="", ordering=(), dataset=None):
    """Products the caller sees that match the Lucene query `q`, in a stable order."""
    files = downloadable_files_queryset(user)
    products = visible_products(user).filter(lucene_to_q(q, files=files))
    if dataset is not None:
        products = products.filter(dataset=dataset)
    order = [_order_expression(name) for name in ordering] + ["id"]
    return products.order_by(*order)


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


def products_with_files(*, user, products):
    """[(product, files the caller may download)] for a page of products, in two queries."""
    files = downloadable_files_queryset(user).order_by("data_type", "id")
    products = list(products.select_related("dataset").prefetch_related(Prefetch("files", files)))
    return [(product, list(product.files.all())) for product in products]


class Page:
    """One page of a queryset; counts once and never asks the database for an empty offset."""

    def __init__(self, queryset, *, number, size):
        self.number, self.size = number, size
        self.total = queryset.count()
        self.total_pages = math.ceil(self.total / size) if self.total else 0
        offset = number * size
        self.items = queryset[offset : offset + size] if offset < self.total else queryset.none()

    @property
    def has_next(self):
        return self.number + 1 < self.total_pages

    @property
    def has_previous(self):
        return 0 < self.number <= self.total_pages
