"""The STAC API (README, "STAC API") as an unmodified pystac-client sees it, against gunicorn."""

import datetime
import hashlib
import warnings

import pytest
import requests
from pystac_client import Client

from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    DatasetFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

STAC = "/api/v1/rs-catalog/stac"


def square(west, south):
    east, north = west + 1, south + 1
    return {
        "type": "Polygon",
        "coordinates": [
            [[west, south], [east, south], [east, north], [west, north], [west, south]]
        ],
    }


@pytest.fixture
def stac_catalog(stored_file, token_for):
    """A private file in a dataset of 8 products over France in January 2024 (one of them
    the file's), one product far away, and a user whose token may download the file."""
    content = b"STAC asset bytes\n" * 1000
    data_file = stored_file(content, filename="scene.tif", file_access="NO_ACCESS")
    dataset = data_file.product.dataset
    user = UserFactory()
    AccessRightFactory(group=AccessGroupFactory(members=[user]), dataset=dataset)
    products = [data_file.product, *(ProductFactory(dataset=dataset) for _ in range(7))]
    for day, product in enumerate(products, start=1):
        product.geometry = square(1 + day * 0.1, 43)
        product.start_date = datetime.datetime(2024, 1, day, tzinfo=datetime.UTC)
        product.properties = {"cloud_cover": day * 10}
        product.save()
    far = ProductFactory(dataset=DatasetFactory(), geometry=square(100, 0))
    AccessRightFactory(group=AccessGroupFactory(public=True), dataset=far.dataset)
    return products, data_file, content, token_for(user)


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_pystac_client_searches_and_pages(gunicorn, stac_catalog, method):
    products, _, _, token = stac_catalog
    client = Client.open(gunicorn + STAC, headers={"Authorization": f"Bearer {token}"})

    search = client.search(
        method=method,
        bbox=[0, 42, 5, 45],
        datetime="2024-01-01T00:00:00Z/2024-01-31T00:00:00Z",
        limit=2,
    )
    pages = list(search.pages())
    by_ids = client.search(method=method, ids=[products[0].urn, products[3].urn])
    by_query = client.search(method=method, query={"cloud_cover": {"gte": 70}})
    by_filter = client.search(
        method=method,
        filter={"op": "<=", "args": [{"property": "cloud_cover"}, 20]},
        filter_lang="cql2-json",
    )

    assert len(pages) == 4
    assert [item.id for page in pages for item in page.items] == [p.urn for p in products]
    assert sorted(item.id for item in by_ids.items()) == sorted([products[0].urn, products[3].urn])
    assert [item.id for item in by_query.items()] == [p.urn for p in products[6:]]
    assert [item.id for item in by_filter.items()] == [p.urn for p in products[:2]]


def test_an_asset_href_downloads_the_file_with_a_token(gunicorn, stac_catalog):
    products, data_file, content, token = stac_catalog
    client = Client.open(gunicorn + STAC, headers={"Authorization": f"Bearer {token}"})

    (item,) = client.search(ids=[products[0].urn]).items()
    asset = item.assets["scene.tif"]
    response = requests.get(asset.href, params={"token": token}, timeout=30)

    assert asset.extra_fields["file:checksum"] == "d510" + data_file.checksum
    assert response.status_code == 200
    assert hashlib.md5(response.content).hexdigest() == data_file.checksum
    assert response.content == content


def test_pystac_client_collection_search_is_done_by_the_server(gunicorn, stac_catalog):
    products, _, _, token = stac_catalog
    for n in range(3):
        dataset = DatasetFactory(label=f"Ocean colour {n}")
        AccessRightFactory(group=AccessGroupFactory(public=True), dataset=dataset)
        ProductFactory(dataset=dataset, geometry=square(-40, 10))
    client = Client.open(gunicorn + STAC, headers={"Authorization": f"Bearer {token}"})

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no client-side fallback: the server filters
        oceans = client.collection_search(q="ocean", limit=1)
        pages = list(oceans.pages_as_dicts())
        over_france = client.collection_search(
            bbox=[0, 42, 5, 45], datetime="2024-01-02T00:00:00Z/2024-01-03T00:00:00Z"
        )
        france = [collection.id for collection in over_france.collections()]

    assert len(pages) == 3
    assert sorted(c["title"] for page in pages for c in page["collections"]) == [
        f"Ocean colour {n}" for n in range(3)
    ]
    assert france == [products[0].dataset.urn]
