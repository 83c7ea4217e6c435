"""Catalog import (SPEC §9): validate a whole JSON document, then upsert it in one transaction.

The document is checked entirely before anything is written, so that a steward sees every
mistake at once and a bad document leaves the database as it was.
"""

from typing import Any

from django.db import transaction

from products.catalog_import.validate import CatalogError, Validator
from products.catalog_import.write import ImportSummary, write_plan

__all__ = ["CatalogError", "ImportSummary", "catalog_load"]


def catalog_load(*, document: Any) -> ImportSummary:
    """Upsert a catalog document, all or nothing; CatalogError lists every problem found."""
    with transaction.atomic():
        # Validation reads referenced rows inside the transaction too: should one vanish
        # before the writes, a constraint fails and everything rolls back.
        plan = Validator(document).run()
        return write_plan(plan)
