"""Trigram indexes for substring searches (bare words in `q`, admin search) on PostgreSQL.

Django's icontains is `UPPER(col) LIKE UPPER('%…%')`: only a trigram index on UPPER(col)
serves it. pg_trgm needs a privileged role to install; without it the indexes are skipped
(searches stay correct, only slower) and a warning says so.
"""

import logging

from django.db import DatabaseError, migrations, transaction

logger = logging.getLogger(__name__)

INDEXES = {
    "products_product_urn_trgm": ("products_product", "urn"),
    "products_product_provider_id_trgm": ("products_product", "provider_id"),
    "products_product_label_trgm": ("products_product", "label"),
    "products_datafile_filename_trgm": ("products_datafile", "filename"),
    "products_datafile_checksum_trgm": ("products_datafile", "checksum"),
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic():
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError as error:
        logger.warning("pg_trgm unavailable (%s): substring searches will not be indexed", error)
        return
    for name, (table, column) in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"USING gin (UPPER({column}::text) gin_trgm_ops)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("products", "0003_data_stewards_group")]
    operations = [migrations.RunPython(create_indexes, drop_indexes)]
