"""Facets of the legacy product search (README, "Facets"), through HTTP."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from products import selectors
from products.models import Product
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    DatasetFactory,
    ProductFactory,
    UserFactory,
)
from tests.helpers import assert_api_error

pytestmark = pytest.mark.django_db

API = "/api/v1/rs-catalog/engines/legacy"
SEARCH = f"{API}/dataobjects/search"
UTC = datetime.UTC


@pytest.fixture
def hidden_dataset():
    """A dataset whose products only its group's members see."""
    dataset = DatasetFactory(label="Hidden")
    AccessRightFactory(group=AccessGroupFactory(name="insiders"), dataset=dataset)
    return dataset


@pytest.fixture
def catalog(open_dataset, hidden_dataset):
    """Five visible products (platforms S2 ×3, S1, "quoted \\"one\\""), and two hidden ones
    whose values would change every count."""
    rows = [
        ("S2", 0, "2022-01-01T00:00:00Z", ["optical"]),
        ("S2", 10, "2022-01-05T00:00:00Z", ["optical", "cloudy"]),
        ("S2", 100, "2022-01-11T00:00:00Z", ["optical"]),
        ("S1", 50, "2022-01-06T12:00:00Z", ["radar"]),
        ('quoted "one"', 55.5, "2022-01-02T00:00:00Z", []),
    ]
    for n, (platform, cloud_cover, day, tags) in enumerate(rows):
        ProductFactory(
            dataset=open_dataset,
            label=f"Open {n}",
            tags=tags,
            properties={"platform": platform, "cloud_cover": cloud_cover, "acquired": day},
            start_date=datetime.datetime.fromisoformat(day),
        )
    for _ in range(2):
        ProductFactory(
            dataset=hidden_dataset,
            tags=["secret"],
            properties={"platform": "SECRET", "cloud_cover": 1000, "acquired": "2030-01-01"},
            start_date=datetime.datetime(2030, 1, 1, tzinfo=UTC),
        )


def facets_of(client, *names, **params):
    response = client.get(SEARCH, {"facets": list(names), **params})
    assert response.status_code == 200, response.content
    return response.json()


def by_name(page):
    return {facet["attributeName"]: facet for facet in page["facets"]}


def test_a_string_facet_counts_each_value_among_the_matches(client, catalog):
    page = facets_of(client, "properties.platform")
    assert page["facets"] == [
        {
            "attributeName": "properties.platform",
            "type": "STRING",
            "values": [
                {"word": "S2", "count": 3, "openSearchQuery": 'properties.platform:"S2"'},
                {"word": "S1", "count": 1, "openSearchQuery": 'properties.platform:"S1"'},
                {
                    "word": 'quoted "one"',
                    "count": 1,
                    "openSearchQuery": 'properties.platform:"quoted \\"one\\""',
                },
            ],
            "others": 0,
        }
    ]
    assert "facetsExact" not in page["metadata"]


def test_each_open_search_query_finds_the_products_it_counts(client, catalog):
    names = ["properties.platform", "properties.cloud_cover", "tags", "dataset", "label"]
    page = facets_of(client, *names, "providerId", "id", "start_date")
    for facet in page["facets"]:
        assert facet["values"], facet
        for value in facet["values"]:
            found = client.get(SEARCH, {"q": value["openSearchQuery"]}).json()
            assert found["metadata"]["totalElements"] == value["count"], value


def test_facets_count_the_products_the_query_matches(client, catalog):
    page = facets_of(client, "properties.platform", q="properties.cloud_cover:<=50")
    values = by_name(page)["properties.platform"]["values"]
    assert [(v["word"], v["count"]) for v in values] == [("S2", 2), ("S1", 1)]


def test_facets_on_a_dataset_search_count_its_products_only(client, catalog, open_dataset):
    other = ProductFactory(dataset=open_dataset, properties={"platform": "S3"})
    other.dataset = DatasetFactory()
    AccessRightFactory(group=AccessGroupFactory(name="public"), dataset=other.dataset)
    other.save()
    url = f"{API}/datasets/{open_dataset.urn}/dataobjects/search"
    response = client.get(url, {"facets": "properties.platform"})
    words = {v["word"] for v in response.json()["facets"][0]["values"]}
    assert words == {"S2", "S1", 'quoted "one"'}


def test_products_of_an_invisible_dataset_are_never_counted(client, catalog, hidden_dataset):
    page = facets_of(client, "properties.platform", "tags", "dataset")
    facets = by_name(page)
    assert "SECRET" not in {v["word"] for v in facets["properties.platform"]["values"]}
    assert "secret" not in {v["word"] for v in facets["tags"]["values"]}
    assert [v["word"] for v in facets["dataset"]["values"]] == [
        Product.objects.exclude(dataset=hidden_dataset).first().dataset.urn
    ]
    insider = UserFactory()
    AccessGroupFactory(name="insiders", members=[insider])
    client.force_login(insider)
    facets = by_name(facets_of(client, "properties.platform", "dataset"))
    assert {"word": "SECRET", "count": 2} in [
        {key: v[key] for key in ("word", "count")} for v in facets["properties.platform"]["values"]
    ]
    assert {v["word"]: v["count"] for v in facets["dataset"]["values"]} == {
        hidden_dataset.urn: 2,
        Product.objects.exclude(dataset=hidden_dataset).first().dataset.urn: 5,
    }


def test_others_counts_the_values_left_out(client, open_dataset):
    for n in range(12):  # values v00 … v11, v00 three times and v01 twice
        for _ in range({0: 3, 1: 2}.get(n, 1)):
            ProductFactory(dataset=open_dataset, properties={"band": f"v{n:02d}"})
    facet = facets_of(client, "properties.band")["facets"][0]
    assert [(v["word"], v["count"]) for v in facet["values"]] == [
        ("v00", 3),
        ("v01", 2),
        *[(f"v{n:02d}", 1) for n in range(2, 10)],
    ]
    assert facet["others"] == 2  # v10 and v11


def test_a_numeric_property_is_counted_by_ranges(client, catalog):
    facet = by_name(facets_of(client, "properties.cloud_cover"))["properties.cloud_cover"]
    assert facet["type"] == "NUMERIC"
    assert facet["values"] == [
        {
            "lowerBound": 0,
            "upperBound": 10,
            "count": 1,
            "openSearchQuery": "properties.cloud_cover:[0 TO 10}",
        },
        {
            "lowerBound": 10,
            "upperBound": 20,
            "count": 1,
            "openSearchQuery": "properties.cloud_cover:[10 TO 20}",
        },
        {
            "lowerBound": 50,
            "upperBound": 60,
            "count": 2,
            "openSearchQuery": "properties.cloud_cover:[50 TO 60}",
        },
        {
            "lowerBound": 90,
            "upperBound": 100,
            "count": 1,
            "openSearchQuery": "properties.cloud_cover:[90 TO 100]",
        },
    ]


def test_dates_are_counted_by_ranges_with_iso_bounds(client, catalog):
    facets = by_name(facets_of(client, "start_date", "properties.acquired"))
    start = facets["start_date"]
    assert start["type"] == "DATE"
    assert start["values"][0]["lowerBound"] == "2022-01-01T00:00:00Z"
    assert start["values"][0]["upperBound"] == "2022-01-02T00:00:00Z"
    assert start["values"][-1]["upperBound"] == "2022-01-11T00:00:00Z"
    assert [v["count"] for v in start["values"]] == [1, 1, 1, 1, 1]
    assert start["values"][-1]["openSearchQuery"].endswith(' TO "2022-01-11T00:00:00Z"]')
    acquired = facets["properties.acquired"]
    assert acquired["type"] == "DATE"
    assert sum(v["count"] for v in acquired["values"]) == 5
    for value in start["values"] + acquired["values"]:
        found = client.get(SEARCH, {"q": value["openSearchQuery"]}).json()
        assert found["metadata"]["totalElements"] == value["count"], value


def test_a_single_value_makes_one_range(client, open_dataset):
    ProductFactory(dataset=open_dataset, properties={"orbit": 7})
    ProductFactory(dataset=open_dataset, properties={"orbit": 7})
    facet = facets_of(client, "properties.orbit")["facets"][0]
    assert facet["values"] == [
        {
            "lowerBound": 7,
            "upperBound": 7,
            "count": 2,
            "openSearchQuery": "properties.orbit:[7 TO 7]",
        }
    ]


def test_a_field_without_values_has_an_empty_facet(client, catalog):
    facets = by_name(facets_of(client, "properties.missing", "end_date"))
    assert facets["properties.missing"] == {
        "attributeName": "properties.missing",
        "type": "STRING",
        "values": [],
        "others": 0,
    }
    assert facets["end_date"] == {"attributeName": "end_date", "type": "DATE", "values": []}


def test_mixed_types_make_a_string_facet_of_the_texts(client, open_dataset):
    ProductFactory(dataset=open_dataset, properties={"level": "L1"})
    ProductFactory(dataset=open_dataset, properties={"level": 2})
    facet = facets_of(client, "properties.level")["facets"][0]
    assert facet["type"] == "STRING"
    assert [(v["word"], v["count"]) for v in facet["values"]] == [("L1", 1)]


def test_tags_count_each_element(client, catalog):
    facet = by_name(facets_of(client, "tags"))["tags"]
    assert [(v["word"], v["count"]) for v in facet["values"]] == [
        ("optical", 3),
        ("cloudy", 1),
        ("radar", 1),
    ]


def test_facets_count_at_most_the_tracked_matches_and_say_so(client, open_dataset, monkeypatch):
    monkeypatch.setattr(selectors, "TRACKED_TOTAL", 3)
    ProductFactory.create_batch(5, dataset=open_dataset, properties={"platform": "S2"})
    page = facets_of(client, "properties.platform")
    assert page["facets"][0]["values"][0]["count"] == 3
    assert page["metadata"]["facetsExact"] is False


def test_without_facets_the_list_is_empty(client, catalog):
    page = client.get(SEARCH).json()
    assert page["facets"] == []
    assert "facetsExact" not in page["metadata"]


@pytest.mark.parametrize(
    "name",
    ["cloud_cover", "properties.", "properties.a-b", "properties.a.b", "files", "geometry", ""],
)
def test_an_unknown_facet_is_a_400(client, catalog, name):
    body = assert_api_error(client.get(SEARCH, {"facets": name}), 400, "invalid_request")
    assert "facets" in body["message"]


def test_too_many_facets_are_a_400(client, catalog):
    names = [f"properties.p{n}" for n in range(11)]
    assert_api_error(client.get(SEARCH, {"facets": names}), 400, "invalid_request")


def test_facets_take_two_statements_whatever_their_number(client, catalog):
    names = ["properties.platform", "properties.cloud_cover", "start_date", "tags", "label"]
    client.get(SEARCH)  # the process reads which properties are indexed once, on first use
    with CaptureQueriesContext(connection) as plain:
        client.get(SEARCH)
    with CaptureQueriesContext(connection) as faceted:
        facets_of(client, *names)
    assert len(faceted) == len(plain) + 2


@pytest.mark.parametrize(
    ("q", "count"),
    [
        ("start_date:2022-01-05", 1),
        ("start_date:[2022-01-02 TO 2022-01-06]", 3),
        ("start_date:{2022-01-02 TO 2022-01-06}", 1),
        ('start_date:>="2022-01-06T12:00:00Z"', 2),
        ("start_date:<2022-01-02", 1),
        ("start_date:*", 5),
        ("NOT start_date:2022-01-01", 4),
        ("end_date:*", 0),
        ("start_date:[2022-01-01 TO 9999-12-31]", 5),
    ],
)
def test_start_and_end_dates_are_searched_as_moments(client, catalog, q, count):
    page = client.get(SEARCH, {"q": q}).json()
    assert page["metadata"]["totalElements"] == count, page


@pytest.mark.parametrize("q", ["start_date:soon", "start_date:2022-13-01", "end_date:[a TO b]"])
def test_a_date_field_refuses_what_is_not_a_date(client, catalog, q):
    assert_api_error(client.get(SEARCH, {"q": q}), 400, "invalid_query")
