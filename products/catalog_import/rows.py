"""Rows looked up by key, in batches."""

from collections.abc import Iterable

# Keeps each query well under SQLite's limit on bound parameters.
BATCH = 500


def batches(items: list, size: int = BATCH) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def ids(model, column, keys) -> dict:
    """{key: primary key} for the rows of `model` whose `column` is in keys."""
    found = {}
    for batch in batches(sorted(set(keys))):
        found.update(model.objects.filter(**{f"{column}__in": batch}).values_list(column, "pk"))
    return found
