"""The legacy engine's other routes that REGARDS scripts call (README, "Search"): entities,
the datasets of matching products, property values and bounds, a dataset's description."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from products.models import DataFile
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    DataFileFactory,
    DatasetFactory,
    ProductFactory,
    UserFactory,
)
from tests.helpers import assert_api_error

pytestmark = pytest.mark.django_db

API = "/api/v1/rs-catalog/engines/legacy"
ENTITIES = f"{API}/entities/search"
PRODUCT_DATASETS = f"{API}/dataobjects/datasets/search"
BOUNDS = f"{API}/dataobjects/properties/bounds"
UTC = datetime.UTC


def values_url(name):
    return f"{API}/dataobjects/properties/{name}/values"


@pytest.fixture
def optical(public_group):
    dataset = DatasetFactory(label="Optical")
    AccessRightFactory(group=public_group, dataset=dataset)
    return dataset


@pytest.fixture
def radar(public_group):
    dataset = DatasetFactory(label="Radar")
    AccessRightFactory(group=public_group, dataset=dataset)
    return dataset


@pytest.fixture
def hidden():
    """A dataset only the insiders see, products included."""
    dataset = DatasetFactory(label="Hidden")
    AccessRightFactory(group=AccessGroupFactory(name="insiders"), dataset=dataset)
    return dataset


@pytest.fixture
def catalog(optical, radar, hidden):
    for n, (platform, cloud_cover) in enumerate([("S2A", 3), ("S2B", 40), ("S2A", 7.5)]):
        ProductFactory(
            dataset=optical,
            provider_id=f"OPT-{n}",
            properties={
                "platform": platform,
                "cloud_cover": cloud_cover,
                "day": f"2022-01-0{n + 1}",
            },
            start_date=datetime.datetime(2022, 1, n + 1, tzinfo=UTC),
        )
    ProductFactory(
        dataset=radar,
        provider_id="SAR-0",
        properties={"platform": "S1A"},
        start_date=datetime.datetime(2021, 6, 1, tzinfo=UTC),
    )
    ProductFactory(
        dataset=hidden,
        provider_id="SECRET-0",
        properties={"platform": "S2Z", "cloud_cover": -100, "day": "1999-01-01"},
        start_date=datetime.datetime(1999, 1, 1, tzinfo=UTC),
    )


def get_json(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    return response.json()


def labels(page):
    return [entry["content"]["label"] for entry in page["content"]]


# Entities


def test_entities_are_the_datasets_then_the_products(client, catalog):
    page = get_json(client, ENTITIES, size=3)
    assert [e["content"]["entityType"] for e in page["content"]] == ["DATASET", "DATASET", "DATA"]
    assert labels(page)[:2] == ["Optical", "Radar"]
    assert page["metadata"] == {"size": 3, "totalElements": 6, "totalPages": 2, "number": 0}
    second = get_json(client, ENTITIES, size=3, page=1)
    assert [e["content"]["providerId"] for e in second["content"]] == ["OPT-1", "OPT-2", "SAR-0"]
    assert "next" not in {link["rel"] for link in second["links"]}


def test_entities_a_page_may_be_datasets_only(client, catalog):
    page = get_json(client, ENTITIES, size=1, page=1)
    assert labels(page) == ["Radar"]
    assert page["metadata"]["totalElements"] == 6
    assert "next" in {link["rel"] for link in page["links"]}


def test_entities_a_product_query_finds_no_dataset(client, catalog):
    page = get_json(client, ENTITIES, q="properties.platform:S2A")
    assert [e["content"]["providerId"] for e in page["content"]] == ["OPT-0", "OPT-2"]
    page = get_json(client, ENTITIES, q="label:Radar")
    assert labels(page) == ["Radar"]


def test_entities_show_what_the_caller_sees(client, catalog):
    page = get_json(client, ENTITIES, size=100)
    assert "Hidden" not in labels(page)
    assert "SECRET-0" not in [e["content"].get("providerId") for e in page["content"]]


def test_entities_refuse_a_malformed_query(client, catalog):
    assert_api_error(client.get(ENTITIES, {"q": "label:("}), 400, "invalid_query")


# Datasets of matching products


def test_the_datasets_of_the_matching_products(client, catalog):
    page = get_json(client, PRODUCT_DATASETS, q="properties.platform:S2*")
    assert labels(page) == ["Optical"]
    assert page["metadata"]["totalElements"] == 1
    assert labels(get_json(client, PRODUCT_DATASETS)) == ["Optical", "Radar"]


def test_the_datasets_of_products_leave_out_invisible_ones(client, catalog, hidden):
    assert labels(get_json(client, PRODUCT_DATASETS, q="properties.platform:S2Z")) == []
    insider = UserFactory()
    AccessGroupFactory(name="insiders", members=[insider])
    client.force_login(insider)
    assert labels(get_json(client, PRODUCT_DATASETS, q="properties.platform:S2Z")) == ["Hidden"]


def test_a_restricted_dataset_is_not_listed_by_its_products(client, public_group):
    dataset = DatasetFactory(label="Restricted")
    AccessRightFactory(group=public_group, dataset=dataset, metadata_access="RESTRICTED_ACCESS")
    ProductFactory(dataset=dataset)
    assert labels(get_json(client, PRODUCT_DATASETS)) == []


def test_the_datasets_of_products_sort_like_datasets(client, catalog):
    page = get_json(client, PRODUCT_DATASETS, sort="label,DESC")
    assert labels(page) == ["Radar", "Optical"]
    assert_api_error(client.get(PRODUCT_DATASETS, {"sort": "providerId"}), 400, "invalid_request")


# Property values


def test_property_values_are_the_distinct_values_in_order(client, catalog):
    assert get_json(client, values_url("properties.platform")) == ["S1A", "S2A", "S2B"]
    assert get_json(client, values_url("platform"), partialText="S2") == ["S2A", "S2B"]
    assert get_json(client, values_url("platform"), partialText="s2") == []


def test_property_values_follow_the_query_and_max_count(client, catalog):
    url = values_url("platform")
    assert get_json(client, url, q="properties.cloud_cover:<10") == ["S2A"]
    assert get_json(client, url, maxCount=2) == ["S1A", "S2A"]
    assert get_json(client, values_url("providerId"), partialText="SAR") == ["SAR-0"]


def test_property_values_hide_invisible_products(client, catalog):
    assert "S2Z" not in get_json(client, values_url("platform"), maxCount=100)


@pytest.mark.parametrize(
    "params",
    [{"maxCount": 0}, {"maxCount": 101}, {"maxCount": "x"}, {"partialText": "x" * 201}],
)
def test_property_values_refuse_bad_parameters(client, catalog, params):
    assert_api_error(client.get(values_url("platform"), params), 400, "invalid_request")


def test_property_values_of_an_unknown_field_are_a_400(client, catalog):
    body = assert_api_error(client.get(values_url("a-b")), 400, "invalid_request")
    assert body["message"].startswith("name:")
    assert_api_error(client.get(values_url("x"), {"q": "("}), 400, "invalid_query")


# Bounds


def test_bounds_of_numbers_dates_and_texts(client, catalog):
    answer = get_json(client, BOUNDS, properties="cloud_cover,properties.day,start_date,label")
    assert answer == [
        {"propertyName": "cloud_cover", "lowerBound": 3, "upperBound": 40},
        {"propertyName": "properties.day", "lowerBound": "2022-01-01", "upperBound": "2022-01-03"},
        {
            "propertyName": "start_date",
            "lowerBound": "2021-06-01T00:00:00Z",
            "upperBound": "2022-01-03T00:00:00Z",
        },
        {"propertyName": "label", "lowerBound": None, "upperBound": None},
    ]


def test_bounds_follow_the_query_and_access(client, catalog, hidden):
    answer = get_json(client, BOUNDS, properties="cloud_cover", q="properties.platform:S2A")
    assert answer == [{"propertyName": "cloud_cover", "lowerBound": 3, "upperBound": 7.5}]
    insider = UserFactory()
    AccessGroupFactory(name="insiders", members=[insider])
    client.force_login(insider)
    answer = get_json(client, BOUNDS, properties="cloud_cover")
    assert answer == [{"propertyName": "cloud_cover", "lowerBound": -100, "upperBound": 40}]


def test_bounds_of_nothing_are_null(client, catalog):
    answer = get_json(client, BOUNDS, properties="cloud_cover", q="providerId:none")
    assert answer == [{"propertyName": "cloud_cover", "lowerBound": None, "upperBound": None}]


@pytest.mark.parametrize("params", [{}, {"properties": ""}, {"properties": ",a-b"}])
def test_bounds_refuse_bad_parameters(client, catalog, params):
    assert_api_error(client.get(BOUNDS, params), 400, "invalid_request")


# Dataset description


def description_url(dataset):
    return f"{API}/datasets/{dataset.urn}/description"


def test_the_description_redirects_to_its_file(client, optical):
    product = ProductFactory(dataset=optical)
    described = DataFileFactory(product=product, data_type=DataFile.DataType.DESCRIPTION)
    optical.description_file = described
    optical.full_clean()
    optical.save()
    response = client.get(description_url(optical))
    assert response.status_code == 303
    assert response["Location"] == (
        f"http://testserver/api/v1/rs-catalog/downloads/{product.urn}/files/{described.checksum}"
    )


def test_a_dataset_without_description_is_a_404(client, optical):
    assert_api_error(client.get(description_url(optical)), 404, "not_found")


def test_the_description_of_an_invisible_dataset_is_refused(client, hidden):
    assert_api_error(client.get(description_url(hidden)), 401, "forbidden")


def test_the_description_must_be_a_description_file_of_the_dataset(optical, radar):
    raw = DataFileFactory(product=ProductFactory(dataset=optical))
    optical.description_file = raw
    with pytest.raises(ValidationError, match="DESCRIPTION"):
        optical.full_clean()
    optical.description_file = DataFileFactory(
        product=ProductFactory(dataset=radar), data_type=DataFile.DataType.DESCRIPTION
    )
    with pytest.raises(ValidationError, match="this dataset"):
        optical.full_clean()


def test_new_routes_are_not_taken_for_product_urns(client, catalog):
    for url in (PRODUCT_DATASETS, BOUNDS + "?properties=x", values_url("platform")):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/datasets/search", "box"),  # a product parameter on the datasets
        ("/entities/search", "facets"),
        ("/dataobjects/datasets/search", "g"),
        ("/dataobjects/properties/platform/values", "size"),
        ("/dataobjects/properties/bounds", "partialText"),
    ],
)
def test_every_legacy_route_refuses_a_parameter_it_does_not_read(api_client, path, name):
    body = assert_api_error(api_client.get(API + path, {name: "1"}), 400, "invalid_request")

    assert body["parameter"] == name
    assert body["message"].startswith(f"{name}: unknown parameter")
