"""GIN indexes for JSON search on PostgreSQL (SQLite has no equivalent; it skips them)."""

from django.db import migrations


def create_gin_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS products_product_properties_gin "
        "ON products_product USING gin (properties jsonb_path_ops)"
    )
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS products_product_tags_gin "
        "ON products_product USING gin (tags jsonb_path_ops)"
    )


def drop_gin_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS products_product_properties_gin")
    schema_editor.execute("DROP INDEX IF EXISTS products_product_tags_gin")


class Migration(migrations.Migration):
    dependencies = [("products", "0001_initial")]
    operations = [migrations.RunPython(create_gin_indexes, drop_gin_indexes)]
