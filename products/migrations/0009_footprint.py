"""Product.footprint (the geometry as shapely reads it, in WKB) and, on PostgreSQL where
PostGIS can be installed, a GiST index over it for spatial search (products.spatial).

PostGIS needs its package on the server and a privileged role to install: without either,
the index is skipped (spatial searches stay exact, through the portable path, only slower)
and a warning says so. `manage.py migrate` run again after installing it adds the index:
run `manage.py migrate products 0008` then `manage.py migrate`.
"""

import logging

from django.db import DatabaseError, migrations, models, transaction

logger = logging.getLogger(__name__)

BATCH = 2000
INDEX = "products_product_footprint_gist"  # products.spatial.POSTGIS_INDEX


def fill_footprints(apps, schema_editor):
    """The footprints (and boxes) of the products stored before footprints existed."""
    from products.spatial import footprint_of

    Product = apps.get_model("products", "Product")
    names = ["footprint", "bbox_west", "bbox_south", "bbox_east", "bbox_north"]
    with_geometry = Product.objects.filter(geometry__isnull=False).only("id", "geometry")
    batch = []
    for product in with_geometry.order_by("id").iterator(chunk_size=BATCH):
        product.footprint, bbox = footprint_of(product.geometry)
        for name, value in zip(names[1:], bbox, strict=True):
            setattr(product, name, value)
        batch.append(product)
        if len(batch) == BATCH:
            Product.objects.bulk_update(batch, names)
            batch = []
    Product.objects.bulk_update(batch, names)


def create_postgis_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic():
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except DatabaseError as error:
        logger.warning("PostGIS unavailable (%s): spatial search will not be indexed", error)
        return
    # An expression index: the footprint stays a plain bytea column Django knows, and the
    # index (what the planner uses) holds the geometries PostGIS reads from it.
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON products_product "
        "USING gist (ST_GeomFromWKB(footprint, 4326))"
    )


def drop_postgis_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("products", "0008_project_license")]

    operations = [
        migrations.AddField(
            model_name="product",
            name="footprint",
            field=models.BinaryField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(fill_footprints, migrations.RunPython.noop),
        migrations.RunPython(create_postgis_index, drop_postgis_index),
    ]
