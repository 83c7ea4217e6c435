import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from products.lucene import lucene_to_q
from products.models import Product
from tests.factories import ProductFactory

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="property indexes are for PostgreSQL"
)


def indexes():
    with connection.cursor() as cursor:
        return {
            index
            for index in connection.introspection.get_constraints(cursor, "products_product")
            if index.startswith("products_product_prop_")
        }


@postgresql_only
@pytest.mark.django_db(transaction=True)  # CREATE INDEX CONCURRENTLY refuses transactions
def test_a_property_index_serves_range_queries():
    ProductFactory(properties={"cloud_cover": 3}, provider_id="clear")
    ProductFactory(properties={"cloud_cover": 80}, provider_id="cloudy")

    call_command("index_property", "cloud_cover")

    assert indexes() == {"products_product_prop_cloud_cover"}
    query = Product.objects.filter(lucene_to_q("properties.cloud_cover:<10"))
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        plan = query.explain()
        cursor.execute("RESET enable_seqscan")
    assert "products_product_prop_cloud_cover" in plan
    assert [p.provider_id for p in query] == ["clear"]

    call_command("index_property", "cloud_cover", "--drop")
    assert indexes() == set()


@pytest.mark.django_db
def test_a_bad_property_name_is_refused():
    with pytest.raises(CommandError, match="not a property name"):
        call_command("index_property", "cloud cover; DROP TABLE x")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite answer")
@pytest.mark.django_db
def test_sqlite_says_property_indexes_are_for_postgresql():
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("index_property", "cloud_cover")
