import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from products.lucene import lucene_to_q
from products.models import Product
from products.selectors import property_index_leaders
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


def matching(q):
    """Provider ids of the products matching `q`, written for the property indexes there are."""
    query = Product.objects.filter(lucene_to_q(q, btree_properties=property_index_leaders()))
    return sorted(query.values_list("provider_id", flat=True))


EQUALITIES = [
    "properties.platform:S2A",
    'properties.platform:"S2A"',
    "properties.platform:12",
    'properties.platform:"12"',
    "properties.orbit:12",
    "properties.orbit:12.0",
    "properties.orbit:true",
    "properties.day:2022-06-13",
    "properties.platform:S2A AND properties.cloud_cover:<10",
    "NOT properties.platform:S2A",
]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_equalities_on_indexed_properties_match_the_same_products():
    for provider_id, properties in {
        "s2a": {"platform": "S2A", "cloud_cover": 3, "orbit": 12, "day": "2022-06-13"},
        "s2a-cloudy": {"platform": "S2A", "cloud_cover": 80, "orbit": 12.0},
        "text-12": {"platform": "12", "orbit": "12"},
        "number-12": {"platform": 12, "orbit": True},
        "list": {"platform": ["S2A"], "orbit": [12]},
        "other": {"platform": "S2B", "day": "2022-06-13T10:00:00Z"},
        "none": {},
    }.items():
        ProductFactory(provider_id=provider_id, properties=properties)
    by_gin = {q: matching(q) for q in EQUALITIES}

    call_command("index_property", "platform", "cloud_cover")
    call_command("index_property", "orbit")
    call_command("index_property", "day")

    assert property_index_leaders() == {"platform", "orbit", "day"}
    assert {q: matching(q) for q in EQUALITIES} == by_gin
    assert by_gin["properties.platform:S2A"] == ["s2a", "s2a-cloudy"]
    for names in (["platform", "cloud_cover"], ["orbit"], ["day"]):
        call_command("index_property", *names, "--drop")


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_one_index_on_several_properties_serves_an_equality_and_a_range():
    ProductFactory(properties={"platform": "S2A", "cloud_cover": 3}, provider_id="clear")
    ProductFactory(properties={"platform": "S2A", "cloud_cover": 80}, provider_id="cloudy")
    ProductFactory(properties={"platform": "S2B", "cloud_cover": 3}, provider_id="other")

    call_command("index_property", "platform", "cloud_cover")

    assert indexes() == {"products_product_prop_platform__cloud_cover"}
    q = "properties.platform:S2A AND properties.cloud_cover:<10"
    query = Product.objects.filter(lucene_to_q(q, btree_properties=property_index_leaders()))
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        plan = query.order_by().explain()  # in no order: the primary key is not a shortcut
        cursor.execute("RESET enable_seqscan")
    assert "products_product_prop_platform__cloud_cover" in plan
    assert "Index Cond" in plan and "cloud_cover" in plan.split("Index Cond")[1]
    assert [p.provider_id for p in query] == ["clear"]

    call_command("index_property", "platform", "cloud_cover", "--drop")
    assert indexes() == set()
    assert property_index_leaders() == set()


@pytest.mark.django_db
def test_a_property_named_twice_is_refused():
    with pytest.raises(CommandError, match="named twice"):
        call_command("index_property", "platform", "platform")


@pytest.mark.django_db
def test_a_bad_property_name_is_refused():
    with pytest.raises(CommandError, match="not a property name"):
        call_command("index_property", "cloud cover; DROP TABLE x")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite answer")
@pytest.mark.django_db
def test_sqlite_says_property_indexes_are_for_postgresql():
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("index_property", "cloud_cover")


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_the_planner_knows_how_many_values_a_type_guard_keeps():
    """Without statistics on `jsonb_typeof(...)` the planner guesses the guard of a range
    keeps 0.5 % of the products, expects a handful of matches, and sorts them all."""
    ProductFactory.create_batch(200, properties={"cloud_cover": 50})
    ProductFactory(properties={"cloud_cover": "cloudy"})

    call_command("index_property", "cloud_cover")

    query = Product.objects.filter(lucene_to_q("properties.cloud_cover:>10"))
    estimated = query.explain(format="json")
    rows = json.loads(estimated)[0]["Plan"]["Plan Rows"]
    assert rows >= 150  # 200 match; without the statistics the estimate is 1
    call_command("index_property", "cloud_cover", "--drop")
