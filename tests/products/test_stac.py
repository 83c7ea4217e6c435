"""STAC API 1.0 (README, "STAC API"), through HTTP."""

import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from products import services, stac
from products.models import AccessRight, DataFile, Dataset, Product
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    DataFileFactory,
    DatasetFactory,
    LicenseFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("search_links")]

STAC = "/api/v1/rs-catalog/stac"
SEARCH = f"{STAC}/search"
UTC = datetime.UTC


def square(west, south, size=1):
    east, north = west + size, south + size
    return {
        "type": "Polygon",
        "coordinates": [
            [[west, south], [east, south], [east, north], [west, north], [west, south]]
        ],
    }


def at(day, hour=0):
    return datetime.datetime(2024, 1, day, hour, tzinfo=UTC)


@pytest.fixture
def open_dataset(public_group):
    dataset = DatasetFactory(label="Open", license=LicenseFactory(slug="cc-by-4.0"))
    AccessRightFactory(group=public_group, dataset=dataset)
    return dataset


@pytest.fixture
def catalog(open_dataset):
    """Three products: Toulouse (1 Jan), Paris (2 Jan, an interval to the 4th), Nice (5 Jan)."""
    return {
        "toulouse": ProductFactory(
            dataset=open_dataset,
            label="Toulouse",
            geometry=square(1, 43),
            start_date=at(1),
            properties={"cloud_cover": 12.5, "platform": "S2A"},
        ),
        "paris": ProductFactory(
            dataset=open_dataset,
            label="Paris",
            geometry=square(2, 48),
            start_date=at(2),
            end_date=at(4),
            properties={"cloud_cover": 80, "platform": "S2B"},
        ),
        "nice": ProductFactory(
            dataset=open_dataset,
            label="Nice",
            geometry=square(7, 43),
            start_date=at(5),
            properties={"cloud_cover": 40, "platform": "L8"},
        ),
    }


def ids(response):
    assert response.status_code == 200, response.content[:500]
    return [feature["id"] for feature in response.json()["features"]]


def assert_stac_error(response, status, code):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "description"}, body
    assert body["code"] == code
    assert isinstance(body["description"], str) and body["description"]
    return body


# Landing page, conformance, collections


def test_the_landing_page_links_the_api(client):
    response = client.get(STAC)

    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "Catalog" and body["stac_version"] == "1.0.0"
    rels = {(link["rel"], link.get("method")): link["href"] for link in body["links"]}
    assert rels[("self", None)] == f"http://testserver{STAC}"
    assert rels[("conformance", None)] == f"http://testserver{STAC}/conformance"
    assert rels[("data", None)] == f"http://testserver{STAC}/collections"
    assert rels[("search", "GET")] == rels[("search", "POST")] == f"http://testserver{SEARCH}"
    assert rels[("service-desc", None)] == "http://testserver/api/v1/schema?format=json"
    schema = client.get(rels[("service-desc", None)])
    assert schema["Content-Type"] == "application/vnd.oai.openapi+json"
    assert f"{SEARCH}" in schema.json()["paths"]
    assert rels[("service-doc", None)] == "http://testserver/api/v1/docs"
    assert client.get(rels[("service-doc", None)]).status_code == 200
    assert "https://api.stacspec.org/v1.0.0/item-search" in body["conformsTo"]


def test_conformance_declares_only_what_is_implemented(client):
    classes = client.get(f"{STAC}/conformance").json()["conformsTo"]

    assert "https://api.stacspec.org/v1.0.0/core" in classes
    assert "https://api.stacspec.org/v1.0.0/item-search#query" in classes
    assert "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text" in classes
    assert "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter" in classes
    # Collection search with free text, but neither its sort, fields, query nor filter.
    assert [name for name in classes if "collection-search" in name] == [
        "https://api.stacspec.org/v1.0.0-rc.1/collection-search",
        "https://api.stacspec.org/v1.0.0-rc.1/collection-search#free-text",
    ]


def test_a_collection_has_its_products_extent_licence_and_summaries(client, catalog, open_dataset):
    response = client.get(f"{STAC}/collections/{open_dataset.urn}")

    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "Collection" and body["id"] == open_dataset.urn
    assert body["license"] == "CC-BY-4.0"
    assert body["extent"]["spatial"]["bbox"] == [[1.0, 43.0, 8.0, 49.0]]
    assert body["extent"]["temporal"]["interval"] == [
        ["2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z"]
    ]
    assert body["summaries"]["cloud_cover"] == {"minimum": 12.5, "maximum": 80}
    assert body["summaries"]["platform"] == ["L8", "S2A", "S2B"]
    items = next(link for link in body["links"] if link["rel"] == "items")
    assert items["href"] == f"http://testserver{STAC}/collections/{open_dataset.urn}/items"


def test_a_collection_follows_its_products_as_they_change(client, catalog, open_dataset):
    """The extent and summaries are stored (computing them reads every product), and done
    again at the first read after a product was saved or deleted."""
    url = f"{STAC}/collections/{open_dataset.urn}"
    client.get(url)
    with CaptureQueriesContext(connection) as unchanged:
        client.get(url)
    far = ProductFactory(
        dataset=open_dataset, geometry=square(100, 10), properties={"cloud_cover": 99}
    )

    grown = client.get(url).json()
    far.delete()
    shrunk = client.get(url).json()

    assert not [q for q in unchanged if "products_product" in q["sql"]]  # read, not computed
    assert grown["extent"]["spatial"]["bbox"] == [[1.0, 10.0, 101.0, 49.0]]
    assert grown["summaries"]["cloud_cover"] == {"minimum": 12.5, "maximum": 99}
    assert shrunk["extent"]["spatial"]["bbox"] == [[1.0, 43.0, 8.0, 49.0]]
    assert shrunk["summaries"]["cloud_cover"] == {"minimum": 12.5, "maximum": 80}


def test_a_product_moved_to_another_dataset_changes_both_collections(
    client, catalog, open_dataset, public_group
):
    """As a steward moves it in the admin: the product is read, given another dataset and
    saved; the dataset it left no longer counts it."""
    other = DatasetFactory(label="Other")
    AccessRightFactory(group=public_group, dataset=other)
    client.get(f"{STAC}/collections/{open_dataset.urn}")
    client.get(f"{STAC}/collections/{other.urn}")

    nice = Product.objects.get(pk=catalog["nice"].pk)
    nice.dataset = other
    nice.save()

    left = client.get(f"{STAC}/collections/{open_dataset.urn}").json()
    joined = client.get(f"{STAC}/collections/{other.urn}").json()
    assert left["extent"]["temporal"]["interval"] == [
        ["2024-01-01T00:00:00Z", "2024-01-04T00:00:00Z"]
    ]
    assert joined["extent"]["temporal"]["interval"] == [
        ["2024-01-05T00:00:00Z", "2024-01-05T00:00:00Z"]
    ]


def test_a_product_saved_while_its_dataset_is_summarized_leaves_it_to_do_again(
    catalog, open_dataset
):
    open_dataset.refresh_from_db()
    read_before = open_dataset.products_version
    ProductFactory(dataset=open_dataset)  # lands between the version read and the write

    Dataset.objects.filter(pk=open_dataset.pk).update(summarized_version=read_before)

    assert services.datasets_summarize_stale(datasets=Dataset.objects.all()) >= 1
    open_dataset.refresh_from_db()
    assert open_dataset.summarized_version == open_dataset.products_version


def test_a_licence_that_is_no_spdx_id_is_other_with_a_link(client, public_group):
    dataset = DatasetFactory(license=LicenseFactory(slug="regards-data-policy"))
    AccessRightFactory(group=public_group, dataset=dataset)

    body = client.get(f"{STAC}/collections/{dataset.urn}").json()

    assert body["license"] == "other"
    (license,) = [link for link in body["links"] if link["rel"] == "license"]
    assert license["href"] == "http://testserver/licenses/regards-data-policy"
    # No product: the whole Earth, an open interval.
    assert body["extent"]["spatial"]["bbox"] == [[-180.0, -90.0, 180.0, 90.0]]
    assert body["extent"]["temporal"]["interval"] == [[None, None]]


def test_collections_lists_only_the_datasets_the_caller_sees(client, open_dataset, public_group):
    hidden = DatasetFactory()
    restricted = DatasetFactory(label="Restricted")
    AccessRightFactory(
        group=public_group,
        dataset=restricted,
        metadata_access=AccessRight.MetadataAccess.RESTRICTED_ACCESS,
    )
    ProductFactory(dataset=restricted)

    response = client.get(f"{STAC}/collections")
    restricted_items = client.get(f"{STAC}/collections/{restricted.urn}/items")

    listed = [c["id"] for c in response.json()["collections"]]
    assert sorted(listed) == sorted([open_dataset.urn, restricted.urn])
    assert_stac_error(client.get(f"{STAC}/collections/{hidden.urn}"), 404, "not_found")
    assert_stac_error(client.get(f"{STAC}/collections/{hidden.urn}/items"), 404, "not_found")
    assert ids(restricted_items) == []  # the dataset is visible, its products are not


# Items


def test_an_item_is_a_stac_feature_with_its_downloadable_files_as_assets(client, catalog):
    toulouse = catalog["toulouse"]
    raw = DataFileFactory(product=toulouse, filename="data.tif", mime_type="image/tiff")
    DataFileFactory(product=toulouse, data_type=DataFile.DataType.QUICKLOOK_SD, filename="ql.png")
    DataFileFactory(product=toulouse, data_type=DataFile.DataType.DESCRIPTION, filename="d.pdf")
    DataFileFactory(product=toulouse, storage="nearline", filename="old.tif")
    reference = DataFileFactory(
        product=toulouse, reference=True, uri="https://example.org/ext.nc", filename="ext.nc"
    )
    collection = toulouse.dataset.urn

    response = client.get(f"{STAC}/collections/{collection}/items/{toulouse.urn}")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    item = response.json()
    assert item["type"] == "Feature" and item["stac_version"] == "1.0.0"
    assert (item["id"], item["collection"]) == (toulouse.urn, collection)
    assert item["geometry"] == square(1, 43) and item["bbox"] == [1.0, 43.0, 2.0, 44.0]
    assert item["properties"]["datetime"] == "2024-01-01T00:00:00Z"
    assert item["properties"]["cloud_cover"] == 12.5
    assert {link["rel"] for link in item["links"]} == {"self", "parent", "collection", "root"}
    assets = item["assets"]
    assert assets["data.tif"] == {
        "href": f"http://testserver/api/v1/rs-catalog/downloads/{toulouse.urn}/files/{raw.checksum}",
        "type": "image/tiff",
        "title": "data.tif",
        "roles": ["data"],
        "file:size": raw.filesize,
        "file:checksum": "d510" + raw.checksum,
        "regards:tier": "online",
    }
    assert assets["ql.png"]["roles"] == ["overview"]
    assert assets["d.pdf"]["roles"] == ["metadata"]
    assert assets["old.tif"]["regards:tier"] == "nearline"
    assert assets["ext.nc"]["href"] == reference.uri
    assert item["stac_extensions"] == ["https://stac-extensions.github.io/file/v2.1.0/schema.json"]


def test_an_interval_product_has_start_and_end_datetime(client, catalog):
    paris = catalog["paris"]

    item = client.get(f"{STAC}/collections/{paris.dataset.urn}/items/{paris.urn}").json()

    assert item["properties"]["datetime"] is None
    assert item["properties"]["start_datetime"] == "2024-01-02T00:00:00Z"
    assert item["properties"]["end_datetime"] == "2024-01-04T00:00:00Z"


def test_a_product_without_dates_has_its_ingestion_time_as_datetime(client, open_dataset):
    """STAC allows a null datetime only with start_datetime and end_datetime."""
    product = ProductFactory(dataset=open_dataset, start_date=None, end_date=None)

    item = client.get(f"{STAC}/collections/{open_dataset.urn}/items/{product.urn}").json()

    created = product.created.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert item["properties"]["datetime"] == created
    assert "start_datetime" not in item["properties"]
    assert "end_datetime" not in item["properties"]


def test_a_datetime_search_finds_an_undated_product_at_its_ingestion_time(client, open_dataset):
    product = ProductFactory(dataset=open_dataset, start_date=None, end_date=None)
    created = product.created.astimezone(UTC)

    def found(interval):
        return ids(client.get(SEARCH, {"datetime": interval}))

    assert found(f"{created:%Y-%m-%d}T00:00:00Z/..") == [product.urn]
    assert found(f"../{created:%Y-%m-%d}T23:59:59Z") == [product.urn]
    assert found("2000-01-01T00:00:00Z/2000-12-31T00:00:00Z") == []


def test_private_files_are_left_out_unless_the_caller_may_download_them(client, public_group):
    dataset = DatasetFactory()
    AccessRightFactory(
        group=public_group, dataset=dataset, file_access=AccessRight.FileAccess.NO_ACCESS
    )
    user = UserFactory()
    AccessRightFactory(group=AccessGroupFactory(members=[user]), dataset=dataset)
    product = ProductFactory(dataset=dataset)
    DataFileFactory(product=product, filename="raw.dat")
    DataFileFactory(product=product, data_type=DataFile.DataType.THUMBNAIL, filename="t.png")
    url = f"{STAC}/collections/{dataset.urn}/items/{product.urn}"

    anonymous = client.get(url).json()["assets"]
    client.force_login(user)
    member = client.get(url).json()["assets"]

    assert set(anonymous) == {"t.png"} and anonymous["t.png"]["roles"] == ["thumbnail"]
    assert set(member) == {"raw.dat", "t.png"}


def test_an_item_the_caller_may_not_see_does_not_exist(client, catalog):
    hidden = ProductFactory()
    toulouse = catalog["toulouse"]

    unseen = client.get(f"{STAC}/collections/{hidden.dataset.urn}/items/{hidden.urn}")
    elsewhere = client.get(f"{STAC}/collections/{hidden.dataset.urn}/items/{toulouse.urn}")

    assert_stac_error(unseen, 404, "not_found")
    assert_stac_error(elsewhere, 404, "not_found")


def test_a_token_shows_private_items_and_a_bad_one_is_refused(client, token_for):
    user = UserFactory()
    dataset = DatasetFactory()
    AccessRightFactory(group=AccessGroupFactory(members=[user]), dataset=dataset)
    product = ProductFactory(dataset=dataset)
    url = f"{STAC}/collections/{dataset.urn}/items/{product.urn}"
    token = token_for(user)

    assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get(url, {"token": token}).status_code == 200
    assert_stac_error(client.get(url), 404, "not_found")
    assert_stac_error(client.get(url, {"token": "nope"}), 401, "invalid_token")


def test_search_finds_only_what_the_caller_sees_with_bearer_or_query_token(
    client, catalog, token_for
):
    user = UserFactory()
    private = ProductFactory(dataset=DatasetFactory())
    AccessRightFactory(group=AccessGroupFactory(members=[user]), dataset=private.dataset)
    token = token_for(user)
    wanted = {"ids": [private.urn, catalog["nice"].urn]}

    anonymous = client.post(SEARCH, wanted, "application/json")
    by_query = client.post(f"{SEARCH}?token={token}", wanted, "application/json")
    by_bearer = client.get(
        SEARCH, {"ids": ",".join(wanted["ids"])}, headers={"Authorization": f"Bearer {token}"}
    )

    assert ids(anonymous) == [catalog["nice"].urn]
    assert ids(by_query) == ids(by_bearer) == [catalog["nice"].urn, private.urn]
    bad = client.post(f"{SEARCH}?token=nope", wanted, "application/json")
    assert_stac_error(bad, 401, "invalid_token")


def test_the_items_of_a_collection_page_by_offset(client, catalog, open_dataset):
    other = ProductFactory(dataset=DatasetFactory())
    AccessRightFactory(group=AccessGroupFactory(public=True), dataset=other.dataset)
    url = f"{STAC}/collections/{open_dataset.urn}/items"

    first = client.get(url, {"limit": 2})
    next_link = next(link for link in first.json()["links"] if link["rel"] == "next")
    second = client.get(next_link["href"])

    expected = [catalog[name].urn for name in ("toulouse", "paris", "nice")]
    assert ids(first) + ids(second) == expected
    assert first.json()["numberMatched"] == 3
    assert not [link for link in second.json()["links"] if link["rel"] == "next"]


def test_number_matched_is_given_up_to_the_counted_bound(client, catalog, monkeypatch):
    monkeypatch.setattr(stac, "MATCHES_COUNTED", 2)

    first = client.get(SEARCH, {"limit": 1})
    last = client.get(SEARCH, {"limit": 1, "offset": 2})

    assert "numberMatched" not in first.json()  # 3 matches, more than are counted
    assert first.json()["numberReturned"] == 1
    assert [link["rel"] for link in first.json()["links"]].count("next") == 1
    assert last.json()["numberMatched"] == 3  # the last page tells the total for free


# Item search


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"bbox": "0,42,3,45"}, ["toulouse"]),
        ({"bbox": "0,42,-100,3,45,100"}, ["toulouse"]),
        ({"bbox": "1.5,43.5,7.5,47"}, ["toulouse", "nice"]),
        ({"intersects": '{"type": "Point", "coordinates": [2.5, 48.5]}'}, ["paris"]),
        ({"datetime": "2024-01-03T00:00:00Z"}, ["paris"]),
        ({"datetime": "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z"}, ["toulouse", "paris"]),
        ({"datetime": "../2024-01-01T12:00:00Z"}, ["toulouse"]),
        ({"datetime": "2024-01-04T00:00:00Z/.."}, ["paris", "nice"]),
        ({"query": '{"cloud_cover": {"lt": 50}}'}, ["toulouse", "nice"]),
        ({"query": '{"properties.cloud_cover": {"gte": 40, "lte": 80}}'}, ["paris", "nice"]),
        ({"query": '{"platform": {"startsWith": "s2"}}'}, ["toulouse", "paris"]),
        ({"query": '{"platform": {"in": ["L8", "S2B"]}}'}, ["paris", "nice"]),
        ({"query": '{"platform": {"neq": "L8"}}'}, ["toulouse", "paris"]),
        ({"query": '{"platform": {"contains": "2"}}'}, ["toulouse", "paris"]),
        ({"sortby": "-properties.cloud_cover"}, ["paris", "nice", "toulouse"]),
        ({"sortby": "-datetime"}, ["nice", "paris", "toulouse"]),
        ({"sortby": "+properties.platform"}, ["nice", "toulouse", "paris"]),
    ],
)
def test_search_get_parameters(client, catalog, parameters, expected):
    assert ids(client.get(SEARCH, parameters)) == [catalog[name].urn for name in expected]


def test_search_by_ids_and_collections(client, catalog, open_dataset):
    wanted = [catalog["nice"].urn, catalog["toulouse"].urn]

    by_ids = client.get(SEARCH, {"ids": ",".join(wanted)})
    by_post = client.post(
        SEARCH, {"ids": wanted, "collections": [open_dataset.urn]}, "application/json"
    )
    elsewhere = client.post(SEARCH, {"collections": ["URN:AIP:DATASET:x"]}, "application/json")

    assert sorted(ids(by_ids)) == sorted(ids(by_post)) == sorted(wanted)
    assert ids(elsewhere) == []


def test_a_product_whose_box_meets_the_bbox_but_not_its_geometry_is_not_found(client, public_group):
    dataset = DatasetFactory()
    AccessRightFactory(group=public_group, dataset=dataset)
    # A thin diagonal line: its box covers the bbox corner, its points do not.
    ProductFactory(
        dataset=dataset, geometry={"type": "LineString", "coordinates": [[0, 0], [10, 10]]}
    )

    assert ids(client.get(SEARCH, {"bbox": "0,8,2,10"})) == []


def test_post_search_pages_by_merging_the_next_body(client, public_group):
    dataset = DatasetFactory()
    AccessRightFactory(group=public_group, dataset=dataset)
    products = [ProductFactory(dataset=dataset) for _ in range(7)]
    body, seen = {"limit": 3}, []

    for _ in range(5):
        answer = client.post(SEARCH, body, "application/json").json()
        seen += [feature["id"] for feature in answer["features"]]
        next_link = next((link for link in answer["links"] if link["rel"] == "next"), None)
        if next_link is None:
            break
        assert next_link["method"] == "POST" and next_link["merge"] is True
        body = {**body, **next_link["body"]}

    assert seen == [product.urn for product in products]


def test_get_links_drop_the_token(client, catalog, token_for):
    token = token_for(UserFactory())

    answer = client.get(SEARCH, {"limit": 1, "token": token}).json()

    links = {link["rel"]: link["href"] for link in answer["links"]}
    assert parse_qs(urlsplit(links["next"]).query) == {"limit": ["1"], "offset": ["1"]}
    assert parse_qs(urlsplit(links["self"]).query) == {"limit": ["1"]}  # as asked


def test_fields_include_and_exclude(client, catalog):
    included = client.get(SEARCH, {"fields": "properties.cloud_cover", "ids": catalog["nice"].urn})
    excluded = client.post(
        SEARCH, {"fields": {"exclude": ["assets", "geometry"]}}, "application/json"
    )

    (feature,) = included.json()["features"]
    assert set(feature) == {"type", "stac_version", "id", "links", "properties"}
    assert feature["properties"] == {"cloud_cover": 40}
    assert not {"assets", "geometry"} & set(excluded.json()["features"][0])


def test_fields_follow_the_extension_include_exclude_rules(client, catalog):
    def fields(**body):
        answer = client.post(SEARCH, {"ids": [catalog["nice"].urn], **body}, "application/json")
        assert answer.status_code == 200, answer.content
        return answer.json()["features"][0]

    default = {"type", "stac_version", "id", "links", "collection", "geometry", "bbox", "assets"}
    assert set(fields(fields={})) == default | {"properties"}
    assert fields(fields={})["properties"] == {"datetime": "2024-01-05T00:00:00Z"}
    # exclude alone: from the whole item; with an empty include: from the default set
    assert "cloud_cover" in fields(fields={"exclude": ["geometry"]})["properties"]
    emptied = fields(fields={"include": [], "exclude": ["geometry"]})
    assert "geometry" not in emptied and "cloud_cover" not in emptied["properties"]
    # include wins: over the same path, and under an excluded one
    assert "geometry" in fields(fields={"include": ["geometry"], "exclude": ["geometry"]})
    nested = fields(fields={"include": ["properties.cloud_cover"], "exclude": ["properties"]})
    assert nested["properties"] == {"cloud_cover": 40}
    assert client.post(SEARCH, {"fields": None}, "application/json").status_code == 400


def test_get_fields_with_only_excluded_paths_keep_the_rest_of_the_item(client, catalog):
    answer = client.get(SEARCH, {"fields": "-geometry", "ids": catalog["nice"].urn})
    nested = client.get(
        SEARCH, {"fields": "-properties,+properties.cloud_cover", "ids": catalog["nice"].urn}
    )

    (feature,) = answer.json()["features"]
    assert "geometry" not in feature and feature["properties"]["platform"] == "L8"
    assert nested.json()["features"][0]["properties"] == {"cloud_cover": 40}


def test_the_self_link_of_a_get_search_is_the_url_asked(client, catalog):
    answer = client.get(f"{STAC}/collections/{catalog['nice'].dataset.urn}/items")

    links = {link["rel"]: link["href"] for link in answer.json()["links"]}
    assert links["self"].endswith(f"/collections/{catalog['nice'].dataset.urn}/items")


@pytest.mark.parametrize(
    "moment",
    ["2024-01-05t00:00:00z", "2024-01-05T01:00:00.000+01:00", "2024-01-04T23:59:59.999999999Z/.."],
)
def test_any_rfc3339_datetime_is_read(client, catalog, moment):
    assert ids(client.get(SEARCH, {"datetime": moment})) == [catalog["nice"].urn]


@pytest.mark.parametrize(
    "moment",
    [
        "2024-01-05T01:00:00+0100",
        "2024-01-05T00:00:00.Z",
        "2024-01-05T00:00:00,5Z",
        "2024-01-05",
        "2024-01-05 00:00:00Z",
    ],
)
def test_a_datetime_outside_rfc3339_is_a_400(client, catalog, moment):
    answer = client.get(SEARCH, {"datetime": moment})

    assert answer.status_code == 400 and answer.json()["code"] == "invalid_request"


def test_a_post_bbox_is_a_list_not_a_csv_string(client, catalog):
    answer = client.post(SEARCH, {"bbox": "1, 43, 2, 44"}, "application/json")
    listed = client.post(SEARCH, {"bbox": [1, 43, 2, 44]}, "application/json")

    assert answer.status_code == 400 and answer.json()["code"] == "invalid_request"
    assert catalog["toulouse"].urn in ids(listed)


def test_a_post_collections_string_is_read_as_in_get(client, catalog):
    body = {"collections": catalog["nice"].dataset.urn, "ids": catalog["nice"].urn}

    assert ids(client.post(SEARCH, body, "application/json")) == [catalog["nice"].urn]


def test_a_query_number_given_as_text_compares_as_a_number(client, catalog):
    query = {"cloud_cover": {"gte": "40"}, "platform": {"neq": "S2A"}}

    found = ids(
        client.post(SEARCH, {"query": query, "sortby": [{"field": "id"}]}, "application/json")
    )

    assert sorted(found) == sorted([catalog["paris"].urn, catalog["nice"].urn])


def test_limit_is_clamped_to_1000(client, catalog):
    answer = client.get(SEARCH, {"limit": 5000})

    assert answer.status_code == 200 and answer.json()["numberReturned"] == 3


@pytest.mark.parametrize(
    ("parameters", "named"),
    [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "0,0,200,1"}, "bbox"),
        ({"datetime": "yesterday"}, "datetime"),
        ({"datetime": "2024-01-02T00:00:00Z/2024-01-01T00:00:00Z"}, "datetime"),
        ({"datetime": "../.."}, "datetime"),
        ({"intersects": '{"type": "Point"}'}, "intersects"),
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"sortby": "label"}, "sortby"),
        ({"query": '{"cloud_cover": {"like": 1}}'}, "query"),
        ({"query": "{"}, "query"),
        ({"colections": "x"}, "colections"),
    ],
)
def test_bad_parameters_are_stac_errors(client, catalog, parameters, named):
    body = assert_stac_error(client.get(SEARCH, parameters), 400, "invalid_request")

    assert named in body["description"]


def test_a_bad_post_body_is_a_stac_error(client, catalog):
    assert_stac_error(client.post(SEARCH, "[1]", "application/json"), 400, "invalid_request")
    assert_stac_error(client.post(SEARCH, "{", "application/json"), 400, "invalid_request")
    not_geojson = {"intersects": "POINT (1 2)"}
    assert_stac_error(client.post(SEARCH, not_geojson, "application/json"), 400, "invalid_request")
    nested = {"query": {"platform": {"in": [{"a": 1}]}}}
    assert_stac_error(client.post(SEARCH, nested, "application/json"), 400, "invalid_request")
    both = {"bbox": [0, 0, 1, 1], "intersects": square(0, 0)}
    assert_stac_error(client.post(SEARCH, both, "application/json"), 400, "invalid_request")


def queries_for(client, url, data=None):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, data).status_code == 200
    # PostgreSQL's list of indexes is read once a minute (property and spatial indexes).
    return len([q for q in queries if "pg_indexes" not in q["sql"]])


def test_a_search_page_and_the_collections_cost_a_fixed_number_of_queries(
    client, public_group, open_dataset
):
    def add_products(count):
        for _ in range(count):
            product = ProductFactory(dataset=open_dataset, geometry=square(1, 1))
            DataFileFactory(product=product)
            DataFileFactory(product=product, data_type=DataFile.DataType.THUMBNAIL)
        dataset = DatasetFactory()
        AccessRightFactory(group=public_group, dataset=dataset)

    add_products(2)
    client.get(f"{STAC}/collections")  # summarizes the changed datasets
    few = [
        queries_for(client, SEARCH, {"bbox": "0,0,3,3"}),
        queries_for(client, f"{STAC}/collections"),
    ]
    add_products(8)
    client.get(f"{STAC}/collections")
    many = [
        queries_for(client, SEARCH, {"bbox": "0,0,3,3"}),
        queries_for(client, f"{STAC}/collections"),
    ]

    assert few == many


# The CQL2 filter (products/cql2.py)


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ("platform = 'L8'", ["nice"]),
        ("cloud_cover < 50 AND NOT platform = 'L8'", ["toulouse"]),
        (
            "platform IN ('S2A', 'S2B') OR cloud_cover BETWEEN 30 AND 45",
            ["toulouse", "paris", "nice"],
        ),
        ("platform LIKE 'S2%' AND datetime > TIMESTAMP('2024-01-01T12:00:00Z')", ["paris"]),
        # Inside Paris's box only: Toulouse's square does not meet it.
        ("S_INTERSECTS(geometry, BBOX(2.5, 48.5, 2.6, 48.6))", ["paris"]),
    ],
)
def test_get_search_filters_with_cql2_text(client, catalog, filter, expected):
    found = ids(client.get(SEARCH, {"filter": filter}))

    assert found == [catalog[name].urn for name in expected]


def test_post_search_filters_with_cql2_json_and_pages_with_the_filter(client, catalog):
    body = {
        "filter": {"op": ">", "args": [{"property": "cloud_cover"}, 20]},
        "limit": 1,
    }
    first = client.post(SEARCH, body, "application/json")
    (next_link,) = [link for link in first.json()["links"] if link["rel"] == "next"]
    second = client.post(SEARCH, {**body, **next_link["body"]}, "application/json")

    assert ids(first) + ids(second) == [catalog["paris"].urn, catalog["nice"].urn]
    assert next_link["merge"] is True  # the client sends its filter again


def test_a_cql2_text_filter_in_a_post_body_and_a_json_one_in_a_get(client, catalog):
    text = {"filter": "platform = 'S2B'", "filter-lang": "cql2-text"}
    as_json = {"filter": '{"op": "=", "args": [{"property": "platform"}, "S2B"]}'}

    assert ids(client.post(SEARCH, text, "application/json")) == [catalog["paris"].urn]
    assert ids(client.get(SEARCH, {**as_json, "filter-lang": "cql2-json"})) == [
        catalog["paris"].urn
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"filter": "platform = "},
        {"filter": "platform ~ 'L8'"},
        {"filter": "platform = 'L8'", "filter-lang": "cql-text"},
        {"filter": "{not json", "filter-lang": "cql2-json"},
        {"filter": "S_CROSSES(geometry, POINT(1 2))"},
    ],
)
def test_a_bad_filter_is_a_stac_error_never_ignored(client, catalog, params):
    body = assert_stac_error(client.get(SEARCH, params), 400, "invalid_request")

    assert body["description"].startswith(("filter", "filter-lang"))


def test_queryables_name_the_fields_and_allow_every_property(client, open_dataset):
    landing = client.get(STAC).json()
    (link,) = [
        link
        for link in landing["links"]
        if link["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/queryables"
    ]
    response = client.get(link["href"])
    one = client.get(f"{STAC}/collections/{open_dataset.urn}/queryables")

    assert response.status_code == one.status_code == 200
    assert response["Content-Type"] == "application/schema+json"
    body = response.json()
    assert {"id", "collection", "datetime", "geometry"} <= set(body["properties"])
    assert body["additionalProperties"] is True
    assert one.json()["$id"].endswith(f"/collections/{open_dataset.urn}/queryables")
    assert_stac_error(client.get(f"{STAC}/collections/URN:nope/queryables"), 404, "not_found")


# Collection search

COLLECTION_SEARCH = f"{STAC}/collections/search"


@pytest.fixture
def collections(catalog, open_dataset, public_group):
    """Besides "Open" (France, 1–5 Jan 2024): "Ocean Colour" (the Atlantic, June 2023), a
    hidden "Open secret" with a product like Toulouse, and "Restricted" over Toulouse whose
    products the public does not see."""
    ocean = DatasetFactory(label="Ocean Colour")
    AccessRightFactory(group=public_group, dataset=ocean)
    ProductFactory(
        dataset=ocean,
        geometry=square(-40, 10, size=5),
        start_date=datetime.datetime(2023, 6, 1, tzinfo=UTC),
        end_date=datetime.datetime(2023, 6, 30, tzinfo=UTC),
    )
    hidden = DatasetFactory(label="Open secret")
    ProductFactory(dataset=hidden, geometry=square(1, 43), start_date=at(1))
    restricted = DatasetFactory(label="Restricted")
    AccessRightFactory(
        group=public_group,
        dataset=restricted,
        metadata_access=AccessRight.MetadataAccess.RESTRICTED_ACCESS,
    )
    ProductFactory(dataset=restricted, geometry=square(1, 43), start_date=at(1))
    return {"open": open_dataset, "ocean": ocean, "hidden": hidden, "restricted": restricted}


def collection_ids(response):
    assert response.status_code == 200, response.content[:500]
    return [collection["id"] for collection in response.json()["collections"]]


def by_urn(collections, *names):
    return sorted(collections[name].urn for name in names)


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({}, ["open", "ocean", "restricted"]),
        ({"q": "ocean"}, ["ocean"]),
        ({"q": "OPEN"}, ["open"]),
        ({"q": "colour,restricted"}, ["ocean", "restricted"]),
        ({"q": "landsat"}, []),
        ({"bbox": "0,42,3,45"}, ["open", "restricted"]),
        ({"bbox": "-50,0,-30,20"}, ["ocean"]),
        ({"bbox": "170,0,-30,20"}, ["ocean"]),  # across the antimeridian
        ({"bbox": "100,-60,120,-50"}, []),
        ({"datetime": "2023-06-15T00:00:00Z"}, ["ocean"]),
        ({"datetime": "2024-01-03T00:00:00Z/.."}, ["open"]),
        ({"datetime": "../2024-01-01T00:00:00Z"}, ["open", "ocean", "restricted"]),
        ({"datetime": "2022-01-01T00:00:00Z/2022-12-31T00:00:00Z"}, []),
        ({"item_bbox": "6.5,42.5,8,44"}, ["open"]),  # only Nice
        ({"item_bbox": "-50,0,-30,5"}, []),  # the ocean's extent, none of its items
        ({"item_datetime": "2024-01-05T00:00:00Z"}, ["open"]),
        ({"item_datetime": "2023-06-01T00:00:00Z/2023-06-02T00:00:00Z"}, ["ocean"]),
        ({"item_datetime": "2025-01-01T00:00:00Z/.."}, []),
        ({"q": "open", "item_datetime": "2023-06-10T00:00:00Z"}, []),
    ],
)
def test_collection_search_get_parameters(client, collections, parameters, expected):
    response = client.get(COLLECTION_SEARCH, parameters)

    assert collection_ids(response) == by_urn(collections, *expected)
    assert response.json()["numberMatched"] == len(expected)


def test_collections_with_a_parameter_is_the_collection_search(client, collections, token_for):
    # Where the STAC extension puts it, and pystac-client's collection_search looks.
    token = token_for(UserFactory())
    found = client.get(f"{STAC}/collections", {"q": "colour,open", "limit": 1, "token": token})
    unknown = client.get(f"{STAC}/collections", {"sortby": "id"})
    everything = client.get(f"{STAC}/collections", {"token": token})

    assert collection_ids(found) == by_urn(collections, "open", "ocean")[:1]
    assert found.json()["numberMatched"] == 2
    next_link = next(link for link in found.json()["links"] if link["rel"] == "next")
    assert urlsplit(next_link["href"]).path == f"{STAC}/collections"
    assert parse_qs(urlsplit(next_link["href"]).query) == {
        "q": ["colour,open"],
        "limit": ["1"],
        "offset": ["1"],
    }
    assert_stac_error(unknown, 400, "invalid_request")
    assert len(collection_ids(everything)) == 3


def test_collection_search_by_item_ids_sees_only_the_callers_items(client, collections, catalog):
    hidden_item = collections["hidden"].products.get()
    restricted_item = collections["restricted"].products.get()
    wanted = [catalog["nice"].urn, hidden_item.urn, restricted_item.urn]

    by_get = client.get(COLLECTION_SEARCH, {"item_ids": ",".join(wanted)})
    by_post = client.post(COLLECTION_SEARCH, {"item_ids": wanted}, "application/json")
    no_item = client.post(COLLECTION_SEARCH, {"item_ids": ["URN:AIP:DATA:x"]}, "application/json")

    assert collection_ids(by_get) == collection_ids(by_post) == [collections["open"].urn]
    assert collection_ids(no_item) == []


def test_collection_search_lists_a_private_dataset_to_its_group_only(
    client, collections, token_for
):
    user = UserFactory()
    group = AccessGroupFactory(members=[user])
    AccessRightFactory(group=group, dataset=collections["hidden"])
    item_bbox = {"item_bbox": "1,43,2,44"}

    anonymous = client.get(COLLECTION_SEARCH, {"q": "secret", **item_bbox})
    member = client.get(COLLECTION_SEARCH, {"q": "secret", **item_bbox, "token": token_for(user)})

    assert collection_ids(anonymous) == []
    assert collection_ids(member) == [collections["hidden"].urn]


def test_collection_search_answers_collections_as_the_collections_endpoint_does(
    client, collections
):
    found = client.post(COLLECTION_SEARCH, {"q": ["ocean"]}, "application/json").json()
    listed = client.get(f"{STAC}/collections").json()["collections"]

    (ocean,) = found["collections"]
    assert ocean == next(c for c in listed if c["id"] == collections["ocean"].urn)
    assert ocean["extent"]["spatial"]["bbox"] == [[-40.0, 10.0, -35.0, 15.0]]
    assert found["numberReturned"] == found["numberMatched"] == 1
    assert {link["rel"] for link in found["links"]} == {"root"}


def test_a_collection_without_products_meets_any_bbox_and_datetime(client, public_group):
    # Its extent shows the whole Earth and an open interval: what the search matches.
    empty = DatasetFactory(label="Empty")
    AccessRightFactory(group=public_group, dataset=empty)
    answer = client.get(
        COLLECTION_SEARCH, {"bbox": "10,10,11,11", "datetime": "2020-01-01T00:00:00Z"}
    )
    with_items = client.get(COLLECTION_SEARCH, {"item_bbox": "-180,-90,180,90"})

    assert collection_ids(answer) == [empty.urn]
    assert collection_ids(with_items) == []


def test_collection_search_pages_in_get_and_post(client, public_group, token_for):
    datasets = [DatasetFactory(label=f"Series {n}") for n in range(5)]
    for dataset in datasets:
        AccessRightFactory(group=public_group, dataset=dataset)
    expected = sorted(dataset.urn for dataset in datasets)
    token = token_for(UserFactory())

    seen, url, pages = [], f"{COLLECTION_SEARCH}?q=series&limit=2&token={token}", 0
    while url is not None:
        answer = client.get(url).json()
        seen += [collection["id"] for collection in answer["collections"]]
        links = {link["rel"]: link["href"] for link in answer["links"]}
        assert "token" not in links["self"]
        url, pages = links.get("next"), pages + 1
    last_prev = parse_qs(urlsplit(links["prev"]).query)

    body, posted = {"q": "series", "limit": 2}, []
    for _ in range(5):
        answer = client.post(COLLECTION_SEARCH, body, "application/json").json()
        posted += [collection["id"] for collection in answer["collections"]]
        next_link = next((link for link in answer["links"] if link["rel"] == "next"), None)
        if next_link is None:
            break
        assert next_link["method"] == "POST" and next_link["merge"] is True
        body = {**body, **next_link["body"]}

    assert seen == posted == expected
    assert pages == 3
    assert last_prev == {"q": ["series"], "limit": ["2"], "offset": ["2"]}


@pytest.mark.parametrize(
    ("parameters", "named"),
    [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"datetime": "yesterday"}, "datetime"),
        ({"item_bbox": "0,0,200,1"}, "item_bbox"),
        ({"item_bbox": ""}, "item_bbox"),
        ({"item_datetime": ""}, "item_datetime"),
        ({"item_datetime": "2024-01-02T00:00:00Z/2024-01-01T00:00:00Z"}, "item_datetime"),
        ({"item_datetime": "2024-01-02"}, "item_datetime"),
        ({"limit": "0"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"ids": "x"}, "ids"),
        ({"collections": "x"}, "collections"),
    ],
)
def test_bad_collection_search_parameters_are_stac_errors(client, collections, parameters, named):
    body = assert_stac_error(client.get(COLLECTION_SEARCH, parameters), 400, "invalid_request")

    assert named in body["description"]


def test_a_bad_collection_search_body_is_a_stac_error(client, collections):
    for body in ("[1]", "{", {"q": 3}, {"q": [1]}, {"item_ids": "x"}, {"bbox": {"west": 1}}):
        response = client.post(COLLECTION_SEARCH, body, "application/json")
        assert_stac_error(response, 400, "invalid_request")


def test_collection_search_costs_a_fixed_number_of_queries(client, public_group):
    def add_datasets(count):
        for _ in range(count):
            dataset = DatasetFactory()
            AccessRightFactory(group=public_group, dataset=dataset)
            ProductFactory(dataset=dataset, geometry=square(1, 1), start_date=at(1))

    parameters = {
        "bbox": "0,0,3,3",
        "item_bbox": "0,0,3,3",
        "item_datetime": "2024-01-01T00:00:00Z",
    }
    # The first read after products changed summarizes their datasets (Dataset.summaries).
    add_datasets(2)
    client.get(COLLECTION_SEARCH, parameters)
    few = queries_for(client, COLLECTION_SEARCH, parameters)
    add_datasets(5)
    client.get(COLLECTION_SEARCH, parameters)
    many = queries_for(client, COLLECTION_SEARCH, parameters)

    assert few == many


def test_query_compares_as_the_cql2_filter_does(client, catalog):
    """`query` is read into a CQL2 filter: one way of comparing properties."""
    as_query = {"query": {"cloud_cover": {"gte": 40}, "platform": {"startsWith": "s2"}}}
    as_filter = {"filter": "cloud_cover >= 40 AND CASEI(platform) LIKE CASEI('s2%')"}

    found = ids(client.post(SEARCH, as_query, "application/json"))

    assert found == ids(client.get(SEARCH, as_filter)) == [catalog["paris"].urn]
    # The value's own % is a character, not a wildcard.
    literal = {"query": {"platform": {"contains": "%"}}}
    assert ids(client.post(SEARCH, literal, "application/json")) == []


def test_a_query_number_beyond_a_double_is_refused(client, catalog):
    body = assert_stac_error(
        client.get(SEARCH, {"query": '{"cloud_cover": {"lt": 1e999}}'}), 400, "invalid_request"
    )

    assert body["description"].startswith("query")
