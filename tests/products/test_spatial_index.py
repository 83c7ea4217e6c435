"""Spatial search on PostgreSQL through PostGIS and its GiST index (products.spatial), and
the footprint every path reads."""

import os
import random

import pytest
import shapely
from django.db import connection
from shapely.geometry import box, mapping

from products import spatial
from products.models import Product
from tests.factories import ProductFactory

API = "/api/v1/rs-catalog"
STAC_SEARCH = f"{API}/stac/search"


@pytest.fixture
def postgis(db):
    """Skips where the database is not PostgreSQL, or (unless REQUIRE_EXTERNALS=1, where
    .ci/run installs it) when PostGIS is not installed there."""
    if connection.vendor != "postgresql":
        pytest.skip("PostGIS is PostgreSQL's: SQLite searches through the portable path")
    if not spatial.postgis_indexed("default"):
        if os.environ.get("REQUIRE_EXTERNALS") == "1":
            pytest.fail("PostGIS is not installed, and REQUIRE_EXTERNALS=1 forbids skipping")
        pytest.skip("PostGIS is not installed (apt-get install postgresql-15-postgis-3)")


def test_a_product_keeps_its_geometry_as_shapely_reads_it(db):
    triangle = {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [0, 1]]]}  # ring not closed
    product = ProductFactory(geometry=triangle)

    product.refresh_from_db()

    footprint = shapely.from_wkb(bytes(product.footprint))
    assert footprint.equals(shapely.Polygon([(0, 0), (2, 0), (0, 1)]))
    assert product.bbox == [0, 0, 2, 1]


def test_a_product_without_a_readable_geometry_has_no_footprint(db):
    for geometry in (None, {"type": "LineString", "coordinates": [[0, 0]]}):
        product = ProductFactory(geometry=geometry)
        product.refresh_from_db()
        assert (product.footprint, product.bbox) == (None, None)


def test_a_geometry_saved_alone_moves_its_footprint(db):
    product = ProductFactory(geometry=mapping(box(0, 0, 1, 1)))
    product.geometry = mapping(box(10, 10, 11, 11))
    product.save(update_fields=["geometry"])

    product.refresh_from_db()

    assert shapely.from_wkb(bytes(product.footprint)).equals(box(10, 10, 11, 11))
    assert product.bbox == [10, 10, 11, 11]


def test_postgresql_answers_an_area_search_from_the_gist_index(postgis, open_dataset):
    ProductFactory(dataset=open_dataset, geometry=mapping(box(1, 43, 2, 44)))
    area = spatial.Area(box(1.5, 43.5, 3, 45))
    queryset = spatial.filter_intersecting(Product.objects.all(), area)

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a few rows: make the index the way
        sql, params = queryset.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert spatial.POSTGIS_INDEX in plan
    assert queryset.count() == 1


def test_postgis_and_the_portable_path_answer_the_same(postgis, open_dataset, monkeypatch):
    """Random footprints against random areas, holes and lines included: PostGIS's answer
    is the one shapely gives where there is no PostGIS."""
    rng = random.Random(12)
    for _ in range(60):
        west, south = rng.uniform(-10, 10), rng.uniform(-10, 10)
        kind = rng.choice(("box", "triangle", "line", "point", "ring"))
        geometry = {
            "box": box(west, south, west + rng.uniform(0, 3), south + rng.uniform(0, 3)),
            "triangle": shapely.Polygon([(west, south), (west + 2, south), (west, south + 2)]),
            "line": shapely.LineString([(west, south), (west + 3, south + 1)]),
            "point": shapely.Point(west, south),
            "ring": shapely.Point(west, south)
            .buffer(2)
            .difference(shapely.Point(west, south).buffer(1)),
        }[kind]
        ProductFactory(dataset=open_dataset, geometry=mapping(geometry))
    areas = [
        box(x, y, x + rng.uniform(0, 4), y + rng.uniform(0, 4))
        for x, y in ((rng.uniform(-10, 10), rng.uniform(-10, 10)) for _ in range(25))
    ]
    areas += [shapely.LineString([(-10, -10), (10, 10)]), shapely.Point(0, 0).buffer(5)]

    def found(area):
        queryset = spatial.filter_intersecting(Product.objects.all(), spatial.Area(area))
        return set(queryset.values_list("id", flat=True))

    with_postgis = [found(area) for area in areas]
    monkeypatch.setattr(spatial, "postgis_indexed", lambda alias: False)
    portable = [found(area) for area in areas]

    assert with_postgis == portable
    assert sum(map(len, portable)) > 20  # the areas do meet products


def test_a_stac_search_under_not_and_or_is_exact_on_both_paths(client, open_dataset):
    """CQL2's S_INTERSECTS is a subquery under NOT: its footprint is the subquery's."""
    inside = ProductFactory(dataset=open_dataset, geometry=mapping(box(1, 1, 2, 2)))
    outside = ProductFactory(dataset=open_dataset, geometry=mapping(box(5, 5, 6, 6)))
    body = {
        "filter-lang": "cql2-json",
        "filter": {
            "op": "not",
            "args": [
                {"op": "s_intersects", "args": [{"property": "geometry"}, mapping(box(0, 0, 3, 3))]}
            ],
        },
    }

    response = client.post(STAC_SEARCH, body, content_type="application/json")

    assert response.status_code == 200, response.content
    ids = {feature["id"] for feature in response.json()["features"]}
    assert outside.urn in ids and inside.urn not in ids
