"""Search API of the REGARDS legacy engine (SPEC §4 "Search"), through HTTP."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from products import selectors
from products.models import AccessRight, DataFile
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    DataFileFactory,
    DatasetFactory,
    LicenseFactory,
    ProductFactory,
    UserFactory,
)
from tests.helpers import assert_api_error

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("search_links")]

API = "/api/v1/rs-catalog/engines/legacy"
SEARCH = f"{API}/dataobjects/search"
DATASET_SEARCH = f"{API}/datasets/search"
MISSING_PRODUCT = "URN:FEATURE:DATA:test:00000000-0000-0000-0000-000000000000:V1"
MISSING_DATASET = "URN:AIP:DATASET:test:00000000-0000-0000-0000-000000000000:V1"
FILE_KEYS = {
    "dataType",
    "reference",
    "uri",
    "mimeType",
    "online",
    "checksum",
    "digestAlgorithm",
    "filesize",
    "filename",
    "types",
}


@pytest.fixture
def catalog(open_dataset):
    """Four products whose labels, tags and properties tell them apart."""
    return {
        "toulouse": ProductFactory(
            dataset=open_dataset,
            provider_id="S2A_TILE_001",
            label="Sentinel-2 over Toulouse",
            tags=["optical"],
            properties={"cloud_cover": 12.5, "platform": "S2"},
        ),
        "paris": ProductFactory(
            dataset=open_dataset,
            provider_id="S2B_TILE_002",
            label="Sentinel-2 over Paris",
            tags=["optical", "cloudy"],
            properties={"cloud_cover": 80, "platform": "S2"},
        ),
        "radar": ProductFactory(
            dataset=open_dataset,
            provider_id="S1A_SAR_003",
            label="Sentinel-1 radar swath",
            tags=["radar"],
            properties={"cloud_cover": 5, "platform": "S1"},
        ),
        "landsat": ProductFactory(
            dataset=open_dataset, provider_id="LANDSAT_004", label="Landsat scene"
        ),
    }


def search(client, url=SEARCH, **params):
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    return response.json()


def provider_ids(page):
    return [entry["content"]["providerId"] for entry in page["content"]]


def links_by_rel(page):
    return {link["rel"]: link["href"] for link in page["links"]}


def query_of(href):
    return parse_qs(urlsplit(href).query)


def download_uri(data_file, root="http://testserver"):
    return f"{root}/api/v1/rs-catalog/downloads/{data_file.product.urn}/files/{data_file.checksum}"


def expected_file(data_file, *, online, root="http://testserver"):
    return {
        "dataType": data_file.data_type,
        "reference": False,
        "uri": download_uri(data_file, root),
        "mimeType": data_file.mime_type,
        "online": online,
        "checksum": data_file.checksum,
        "digestAlgorithm": "MD5",
        "filesize": data_file.filesize,
        "filename": data_file.filename,
        "types": data_file.types,
    }


# Page shape


def test_search_page_has_the_regards_shape(api_client, catalog):
    page = search(api_client, size=3)

    assert set(page) == {"metadata", "content", "links", "facets"}
    assert page["metadata"] == {"size": 3, "totalElements": 4, "totalPages": 2, "number": 0}
    assert page["facets"] == []
    assert provider_ids(page) == ["S2A_TILE_001", "S2B_TILE_002", "S1A_SAR_003"]
    for entry in page["content"]:
        assert set(entry) == {"content", "links"}
        assert entry["links"] == [
            {"rel": "self", "href": f"http://testserver{API}/dataobjects/{entry['content']['id']}"}
        ]


def test_first_page_links_to_itself_and_the_next_page(api_client, catalog):
    page = search(api_client, size=3, q="providerId:*")

    links = links_by_rel(page)
    assert set(links) == {"self", "next"}
    for rel, number in (("self", "0"), ("next", "1")):
        href = links[rel]
        assert href.startswith(f"http://testserver{SEARCH}?")
        assert query_of(href) == {"page": [number], "size": ["3"], "q": ["providerId:*"]}


def test_last_page_links_back_to_the_previous_page_only(api_client, catalog):
    page = search(api_client, size=3, page=1)

    assert page["metadata"] == {"size": 3, "totalElements": 4, "totalPages": 2, "number": 1}
    assert provider_ids(page) == ["LANDSAT_004"]
    links = links_by_rel(page)
    assert set(links) == {"self", "prev"}
    assert query_of(links["self"])["page"] == ["1"]
    assert query_of(links["prev"])["page"] == ["0"]


def test_middle_page_links_both_ways(api_client, catalog):
    links = links_by_rel(search(api_client, size=1, page=2))

    assert {rel: query_of(href)["page"] for rel, href in links.items()} == {
        "self": ["2"],
        "next": ["3"],
        "prev": ["1"],
    }


def test_page_links_never_carry_the_token(api_client, catalog, token_for):
    token = token_for(UserFactory())

    page = search(api_client, size=1, page=1, token=token)

    assert len(page["links"]) == 3
    for href in [link["href"] for link in page["links"]] + [
        link["href"] for entry in page["content"] for link in entry["links"]
    ]:
        assert "token=" not in href
        assert token not in href


def test_search_with_no_match_is_an_empty_page(api_client, catalog):
    page = search(api_client, q="providerId:NOTHING")

    assert page["metadata"] == {"size": 20, "totalElements": 0, "totalPages": 0, "number": 0}
    assert page["content"] == []
    assert [link["rel"] for link in page["links"]] == ["self"]


# Product and file shapes


def test_product_has_the_regards_shape_field_by_field(api_client, open_dataset):
    product = ProductFactory(
        dataset=open_dataset,
        provider_id="S2A_TILE_001",
        label="Sentinel-2 tile",
        model="S2_L1C",
        tags=["optical", "sentinel-2"],
        properties={"cloud_cover": 12.5, "start_date": "2022-06-13T10:00:00Z", "orbit": 42},
        geometry={"type": "Point", "coordinates": [1.44, 43.6]},
    )
    image = DataFileFactory(
        product=product, filename="image.tif", mime_type="image/tiff", types=["GeoTIFF"]
    )
    metadata = DataFileFactory(
        product=product, filename="iso.xml", mime_type="application/xml", storage="nearline"
    )
    quicklook = DataFileFactory(
        product=product,
        data_type=DataFile.DataType.QUICKLOOK_SD,
        filename="ql.png",
        mime_type="image/png",
    )

    (entry,) = search(api_client)["content"]

    assert entry["content"] == {
        "type": "Feature",
        "id": product.urn,
        "virtualId": product.urn.removesuffix(":V1") + ":LAST",
        "version": 1,
        "last": True,
        "providerId": "S2A_TILE_001",
        "entityType": "DATA",
        "label": "Sentinel-2 tile",
        "model": "S2_L1C",
        "tags": ["optical", "sentinel-2", open_dataset.urn],
        "properties": {"cloud_cover": 12.5, "start_date": "2022-06-13T10:00:00Z", "orbit": 42},
        "geometry": {"type": "Point", "coordinates": [1.44, 43.6]},
        "bbox": [1.44, 43.6, 1.44, 43.6],
        "files": {
            "RAWDATA": [
                expected_file(image, online=True),
                expected_file(metadata, online=False),
            ],
            "QUICKLOOK_SD": [expected_file(quicklook, online=True)],
        },
    }


def test_product_without_files_has_an_empty_files_object(api_client, open_dataset):
    ProductFactory(dataset=open_dataset)

    (entry,) = search(api_client)["content"]

    assert entry["content"]["files"] == {}
    assert entry["content"]["geometry"] is None


def test_file_has_exactly_the_reference_fields(api_client, open_dataset):
    DataFileFactory(product=ProductFactory(dataset=open_dataset))
    DataFileFactory(
        product=ProductFactory(dataset=open_dataset),
        reference=True,
        uri="https://elsewhere.example.org/x.nc",
        storage="",
    )

    page = search(api_client)

    files = [f for entry in page["content"] for f in entry["content"]["files"]["RAWDATA"]]
    assert len(files) == 2
    for data_file in files:
        assert set(data_file) == FILE_KEYS


def test_file_uri_is_the_absolute_download_url_of_the_request_host(api_client, open_dataset):
    data_file = DataFileFactory(product=ProductFactory(dataset=open_dataset))

    page = api_client.get(SEARCH, HTTP_HOST="localhost:8000").json()

    (file_json,) = page["content"][0]["content"]["files"]["RAWDATA"]
    assert file_json["uri"] == download_uri(data_file, "http://localhost:8000")
    assert page["content"][0]["links"][0]["href"].startswith("http://localhost:8000/api/v1/")


def test_file_uri_keeps_the_scheme_of_a_secure_request(api_client, open_dataset):
    data_file = DataFileFactory(product=ProductFactory(dataset=open_dataset))

    page = api_client.get(SEARCH, secure=True).json()

    (file_json,) = page["content"][0]["content"]["files"]["RAWDATA"]
    assert file_json["uri"] == download_uri(data_file, "https://testserver")


def test_file_uri_is_built_from_public_base_url_when_set(api_client, open_dataset, settings):
    settings.PUBLIC_BASE_URL = "https://catalog.example.org"
    data_file = DataFileFactory(product=ProductFactory(dataset=open_dataset))

    page = api_client.get(SEARCH, HTTP_HOST="localhost:8000").json()

    entry = page["content"][0]
    (file_json,) = entry["content"]["files"]["RAWDATA"]
    assert file_json["uri"] == download_uri(data_file, "https://catalog.example.org")
    assert entry["links"] == [
        {
            "rel": "self",
            "href": f"https://catalog.example.org{API}/dataobjects/{data_file.product.urn}",
        }
    ]


def test_page_links_use_public_base_url_when_set(api_client, catalog, settings):
    settings.PUBLIC_BASE_URL = "https://catalog.example.org"

    page = api_client.get(SEARCH, {"size": 1, "page": 1}, HTTP_HOST="localhost:8000").json()

    for href in links_by_rel(page).values():
        assert href.startswith(f"https://catalog.example.org{SEARCH}?")


def test_the_download_uri_of_a_search_result_serves_the_file(api_client, open_dataset, tmp_path):
    content = b"bytes behind the uri\n"
    data_file = DataFileFactory(product=ProductFactory(dataset=open_dataset), content=content)
    path = tmp_path / "storage" / "online" / data_file.checksum
    path.parent.mkdir(parents=True)
    path.write_bytes(content)

    (file_json,) = search(api_client)["content"][0]["content"]["files"]["RAWDATA"]
    response = api_client.get(file_json["uri"].removeprefix("http://testserver"))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content


def test_reference_file_uri_is_its_external_url(api_client, open_dataset):
    DataFileFactory(
        product=ProductFactory(dataset=open_dataset),
        reference=True,
        uri="https://elsewhere.example.org/data/x.nc",
        storage="",
        mime_type="application/x-netcdf",
    )

    (file_json,) = search(api_client)["content"][0]["content"]["files"]["RAWDATA"]

    assert file_json["reference"] is True
    assert file_json["uri"] == "https://elsewhere.example.org/data/x.nc"
    assert file_json["mimeType"] == "application/x-netcdf"


@pytest.mark.parametrize(("location", "online"), [("online", True), ("nearline", False)])
def test_online_flag_is_the_tier_of_the_storage_location(
    api_client, open_dataset, location, online
):
    DataFileFactory(product=ProductFactory(dataset=open_dataset), storage=location)

    (file_json,) = search(api_client)["content"][0]["content"]["files"]["RAWDATA"]

    assert file_json["online"] is online


# Pagination


def test_page_size_defaults_to_twenty(api_client, open_dataset):
    ProductFactory.create_batch(21, dataset=open_dataset)

    page = search(api_client)

    assert page["metadata"] == {"size": 20, "totalElements": 21, "totalPages": 2, "number": 0}
    assert len(page["content"]) == 20
    assert len(search(api_client, page=1)["content"]) == 1


def test_page_size_of_one_thousand_is_allowed(api_client, catalog):
    page = search(api_client, size=1000)

    assert page["metadata"] == {"size": 1000, "totalElements": 4, "totalPages": 1, "number": 0}
    assert len(page["content"]) == 4


@pytest.mark.parametrize(
    "params",
    [
        {"size": 0},
        {"size": -5},
        {"size": "many"},
        {"page": -1},
        {"page": "abc"},
        {"page": "1.5"},
        {"page": 10**30},
        {"page": 10**9 + 1},
        {"page": "1e3"},
        {"page": "inf"},
        {"page": "nan"},
        {"size": "1e999"},
    ],
    ids=[
        "size-0",
        "size-negative",
        "size-text",
        "page-negative",
        "page-text",
        "page-decimal",
        "page-absurd",
        "page-over-the-limit",
        "page-exponent",
        "page-infinite",
        "page-nan",
        "size-infinite",
    ],
)
def test_bad_page_parameters_are_refused(api_client, catalog, params):
    body = assert_api_error(api_client.get(SEARCH, params), 400, "invalid_request")

    assert set(params) & set(body["errors"])


def test_a_page_beyond_the_end_is_empty_not_an_error(api_client, catalog):
    page = search(api_client, page=999_999, size=1000)

    assert page["content"] == []
    assert page["metadata"] == {
        "size": 1000,
        "totalElements": 4,
        "totalPages": 1,
        "number": 999_999,
    }
    assert "next" not in links_by_rel(page)


def test_the_largest_page_allowed_is_empty_not_an_overflow(api_client, catalog):
    """page × size reaches 10**12: within a 64-bit OFFSET on every database."""
    page = search(api_client, page=10**9, size=1000, sort="properties.cloud_cover,DESC")

    assert page["content"] == []
    assert page["metadata"]["number"] == 10**9


# Totals: exact up to selectors.TRACKED_TOTAL matches, a lower bound beyond


@pytest.fixture
def tracked_total(monkeypatch):
    """Totals counted exactly up to 3 matches (10,000 in production)."""
    monkeypatch.setattr(selectors, "TRACKED_TOTAL", 3)


def count_queries(queries):
    return [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]


def test_a_total_beyond_the_tracked_count_is_a_lower_bound(api_client, catalog, tracked_total):
    page = search(api_client, size=1)

    assert page["metadata"] == {
        "size": 1,
        "totalElements": 4,  # the 3 tracked and one more: at least 4
        "totalPages": 4,
        "number": 0,
        "totalElementsExact": False,
    }
    assert set(links_by_rel(page)) == {"self", "next"}


def test_the_last_page_tells_the_exact_total_however_deep(api_client, catalog, tracked_total):
    with CaptureQueriesContext(connection) as queries:
        page = search(api_client, size=1, page=3)

    assert page["metadata"] == {"size": 1, "totalElements": 4, "totalPages": 4, "number": 3}
    assert provider_ids(page) == ["LANDSAT_004"]
    assert count_queries(queries) == []


def test_a_page_deeper_than_the_tracked_count_reports_the_matches_it_read(
    api_client, open_dataset, tracked_total
):
    ProductFactory.create_batch(6, dataset=open_dataset)

    with CaptureQueriesContext(connection) as queries:
        page = search(api_client, size=2, page=1)

    assert len(page["content"]) == 2
    assert page["metadata"] == {
        "size": 2,
        "totalElements": 5,  # pages 0 and 1, and the first product of page 2
        "totalPages": 3,
        "number": 1,
        "totalElementsExact": False,
    }
    assert set(links_by_rel(page)) == {"self", "next", "prev"}
    assert count_queries(queries) == []  # a count up to 3 would know less


def test_a_page_that_is_not_full_costs_no_count(api_client, catalog):
    with CaptureQueriesContext(connection) as queries:
        page = search(api_client, q="providerId:S2*")

    assert page["metadata"] == {"size": 20, "totalElements": 2, "totalPages": 1, "number": 0}
    assert count_queries(queries) == []


def test_a_full_page_with_more_behind_it_costs_one_count(api_client, catalog):
    with CaptureQueriesContext(connection) as queries:
        page = search(api_client, size=2)

    assert page["metadata"] == {"size": 2, "totalElements": 4, "totalPages": 2, "number": 0}
    assert len(count_queries(queries)) == 1


@pytest.mark.parametrize("sort", [[], ["label,DESC"], ["properties.cloud_cover,ASC"]])
@pytest.mark.parametrize(("size", "number"), [(2, 0), (2, 1), (3, 1), (7, 0), (1, 6)])
def test_totals_are_exact_in_any_order_and_on_any_page(
    api_client, open_dataset, sort, size, number
):
    for n in range(7):
        ProductFactory(dataset=open_dataset, label=f"L{n % 3}", properties={"cloud_cover": n % 4})

    page = search(api_client, size=size, page=number, sort=sort)

    assert page["metadata"] == {
        "size": size,
        "totalElements": 7,
        "totalPages": -(-7 // size),
        "number": number,
    }


def test_a_page_costs_the_same_queries_however_many_products_and_files(api_client, open_dataset):
    def queries_for_a_page():
        with CaptureQueriesContext(connection) as queries:
            search(api_client)
        # PostgreSQL's list of indexes is read once a minute, not per page.
        return len([q for q in queries if "pg_indexes" not in q["sql"]])

    DataFileFactory(product=ProductFactory(dataset=open_dataset))
    one = queries_for_a_page()
    for product in ProductFactory.create_batch(19, dataset=open_dataset):
        DataFileFactory(product=product)
        DataFileFactory(product=product, data_type=DataFile.DataType.THUMBNAIL)

    assert queries_for_a_page() == one


# Sorting


def test_sort_by_label_descending(api_client, catalog):
    page = search(api_client, sort="label,DESC")

    assert provider_ids(page) == ["S2A_TILE_001", "S2B_TILE_002", "S1A_SAR_003", "LANDSAT_004"]


def test_sort_direction_defaults_to_ascending_and_ignores_case(api_client, catalog):
    ascending = ["LANDSAT_004", "S1A_SAR_003", "S2B_TILE_002", "S2A_TILE_001"]

    assert provider_ids(search(api_client, sort="label")) == ascending
    assert provider_ids(search(api_client, sort="label,desc")) == ascending[::-1]


def test_repeated_sort_orders_by_each_key_in_turn(api_client, catalog):
    first_key_only = search(api_client, sort=["properties.platform,ASC", "label,ASC"])
    then_label_desc = search(api_client, sort=["properties.platform,ASC", "label,DESC"])

    assert provider_ids(first_key_only) == [
        "S1A_SAR_003",
        "S2B_TILE_002",
        "S2A_TILE_001",
        "LANDSAT_004",
    ]
    assert provider_ids(then_label_desc) == [
        "S1A_SAR_003",
        "S2A_TILE_001",
        "S2B_TILE_002",
        "LANDSAT_004",
    ]


def test_sort_by_a_numeric_property_compares_numbers_and_puts_missing_last(api_client, catalog):
    ascending = search(api_client, sort="properties.cloud_cover,ASC")
    descending = search(api_client, sort="properties.cloud_cover,DESC")

    assert provider_ids(ascending) == ["S1A_SAR_003", "S2A_TILE_001", "S2B_TILE_002", "LANDSAT_004"]
    assert provider_ids(descending) == [
        "S2B_TILE_002",
        "S2A_TILE_001",
        "S1A_SAR_003",
        "LANDSAT_004",
    ]


@pytest.mark.parametrize(
    "sort",
    ["password,ASC", "label,SIDEWAYS", "properties.a;drop,ASC", "label,ASC,DESC", ",ASC", ""],
)
def test_bad_sort_is_refused(api_client, catalog, sort):
    body = assert_api_error(api_client.get(SEARCH, {"sort": sort}), 400, "invalid_request")

    assert "sort" in body["errors"]


# Lucene query through HTTP (the translation itself: tests/products/test_lucene.py)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("providerId:S2*", ["S2A_TILE_001", "S2B_TILE_002"]),
        ("Toulouse", ["S2A_TILE_001"]),
        ('label:"Sentinel-2 over Paris"', ["S2B_TILE_002"]),
        ("properties.cloud_cover:[0 TO 20]", ["S2A_TILE_001", "S1A_SAR_003"]),
        ("properties.cloud_cover:>=50", ["S2B_TILE_002"]),
        ("tags:optical AND NOT tags:cloudy", ["S2A_TILE_001"]),
        ("(tags:radar OR providerId:LANDSAT_004)", ["S1A_SAR_003", "LANDSAT_004"]),
        ("", ["S2A_TILE_001", "S2B_TILE_002", "S1A_SAR_003", "LANDSAT_004"]),
    ],
)
def test_q_selects_products_with_lucene_syntax(api_client, catalog, q, expected):
    page = search(api_client, q=q)

    assert provider_ids(page) == expected
    assert page["metadata"]["totalElements"] == len(expected)


def test_q_and_sort_and_paging_combine(api_client, catalog):
    page = search(api_client, q="tags:optical", sort="label,ASC", size=1, page=1)

    assert provider_ids(page) == ["S2A_TILE_001"]
    assert page["metadata"] == {"size": 1, "totalElements": 2, "totalPages": 2, "number": 1}


@pytest.mark.parametrize(
    "q", ["label:(Toulouse", 'label:"open', "[1 TO", "AND", "unknown_field:x", "tags:[a TO b]"]
)
def test_malformed_q_is_refused_with_its_position(api_client, catalog, q):
    body = assert_api_error(api_client.get(SEARCH, {"q": q}), 400, "invalid_query")

    assert "position" in body
    assert body["position"] is None or 0 <= body["position"] <= len(q)


def test_syntax_error_in_q_reports_an_integer_position(api_client, catalog):
    body = assert_api_error(api_client.get(SEARCH, {"q": "label:(Toulouse"}), 400, "invalid_query")

    assert isinstance(body["position"], int)


@pytest.mark.parametrize("q", ["x" * 3000, "label:\x00", "(" * 500 + "a" + ")" * 500])
def test_hostile_q_is_a_client_error(api_client, catalog, q):
    response = api_client.get(SEARCH, {"q": q})

    assert response.status_code == 400
    assert response.json()["code"] in {"invalid_query", "invalid_request"}


@pytest.mark.parametrize(
    ("q", "position"),
    [
        ("properties.cloud_cover:1e999", 23),
        ("properties.cloud_cover:-1e999", 23),
        ("properties.cloud_cover:>1e309", 24),
        ("properties.cloud_cover:[1e999 TO *]", 24),
        ("properties.cloud_cover:[0 TO 1.5e400]", 29),
        ("properties.cloud_cover:" + "9" * 400, 23),  # an integer beyond a double too
        ("properties.cloud_cover:9223372036854775808", 23),  # 2**63: beyond 64 bits
        ("properties.cloud_cover:>9223372036854775808", 24),
        ("properties.cloud_cover:{-9223372036854775809 TO 0]", 24),
    ],
)
def test_a_number_no_database_compares_is_an_invalid_query(api_client, catalog, q, position):
    """PostgreSQL's JSON has no Infinity, SQLite binds no integer beyond 64 bits: a 500 each."""
    response = api_client.get(SEARCH, {"q": q})

    assert_api_error(response, 400, "invalid_query", position=position)
    assert "out of range" in response.json()["message"]


ALL_NUMBERS = ["S2A_TILE_001", "S2B_TILE_002", "S1A_SAR_003"]  # every cloud_cover in `catalog`


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("properties.cloud_cover:>1.7e308", []),
        ("properties.cloud_cover:[-9223372036854775808 TO 9223372036854775807]", ALL_NUMBERS),
        ("properties.cloud_cover:<1e20", ALL_NUMBERS),
        ("properties.cloud_cover:>1e-999", ALL_NUMBERS),
    ],
)
def test_numbers_at_the_edges_of_the_range_compare(api_client, catalog, q, expected):
    assert provider_ids(search(api_client, q=q)) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("properties.start:[2020-01-01 TO 9999-12-31]", ["S2A_TILE_001", "LANDSAT_004"]),
        ("properties.start:<=9999-12-31", ["S2A_TILE_001", "LANDSAT_004"]),
        ("properties.start:>9999-12-31", []),
        ("properties.start:>=9999-12-31", ["LANDSAT_004"]),
        ("properties.start:{0001-01-01 TO 9999-12-31]", ["S2A_TILE_001", "LANDSAT_004"]),
    ],
)
def test_the_last_day_of_the_calendar_bounds_a_date_range(api_client, catalog, q, expected):
    """`<= day` means `< the day after`: 9999-12-31 has none (it overflowed into a 500)."""
    catalog["toulouse"].properties["start"] = "2022-06-13T10:00:00Z"
    catalog["toulouse"].save()
    catalog["landsat"].properties = {"start": "9999-12-31T23:59:59Z"}
    catalog["landsat"].save()

    assert provider_ids(search(api_client, q=q)) == expected


# One product


@pytest.mark.parametrize("kind", ["dataobjects", "entities"])
def test_product_detail_is_the_entry_of_the_search_results(api_client, catalog, kind):
    """Wrapped as REGARDS's EntityModel: scripts read r["content"]["files"]."""
    product = catalog["toulouse"]
    DataFileFactory(product=product)

    response = api_client.get(f"{API}/{kind}/{product.urn}")

    assert response.status_code == 200
    (entry,) = search(api_client, q="providerId:S2A_TILE_001")["content"]
    assert response.json() == entry
    assert set(response.json()) == {"content", "links"}
    assert list(response.json()["content"]["files"]) == ["RAWDATA"]


@pytest.mark.parametrize("kind", ["dataobjects", "entities"])
@pytest.mark.parametrize("urn", [MISSING_PRODUCT, "not-a-urn", "URN:FEATURE:DATA:x"])
def test_unknown_product_is_not_found(api_client, catalog, urn, kind):
    assert_api_error(api_client.get(f"{API}/{kind}/{urn}"), 404, "not_found")


@pytest.mark.parametrize("kind", ["dataobjects", "entities"])
def test_invisible_product_is_forbidden_to_a_user(client_for, kind):
    product = ProductFactory()  # a dataset no group has any right on

    response = client_for(UserFactory()).get(f"{API}/{kind}/{product.urn}")

    assert_api_error(response, 403, "forbidden")


@pytest.mark.parametrize("kind", ["dataobjects", "entities"])
def test_invisible_product_asks_an_anonymous_caller_to_authenticate(api_client, kind):
    product = ProductFactory()

    response = api_client.get(f"{API}/{kind}/{product.urn}")

    assert_api_error(response, 401, "forbidden")
    assert response["WWW-Authenticate"].startswith("Bearer")


# Datasets


@pytest.fixture
def datasets(public_group):
    """Datasets under each metadata access level of the public group, and one with no right."""
    levels = AccessRight.MetadataAccess
    made = {}
    for label, level in [
        ("Alpha full", levels.FULL_ACCESS),
        ("Beta restricted", levels.RESTRICTED_ACCESS),
        ("Gamma no access", levels.NO_ACCESS),
    ]:
        made[label] = DatasetFactory(label=label)
        AccessRightFactory(group=public_group, dataset=made[label], metadata_access=level)
    made["Delta no right"] = DatasetFactory(label="Delta no right")
    for dataset in made.values():
        ProductFactory(dataset=dataset)
    return made


def test_dataset_search_lists_the_datasets_the_caller_sees(api_client, datasets):
    page = search(api_client, DATASET_SEARCH)

    assert page["metadata"] == {"size": 20, "totalElements": 2, "totalPages": 1, "number": 0}
    assert [entry["content"]["label"] for entry in page["content"]] == [
        "Alpha full",
        "Beta restricted",
    ]
    assert page["facets"] == []
    alpha = datasets["Alpha full"]
    products = f"http://testserver{API}/datasets/{alpha.urn}/dataobjects/search"
    assert page["content"][0] == {
        "content": {
            "id": alpha.urn,
            "providerId": "Alpha full",
            "entityType": "DATASET",
            "label": "Alpha full",
            "model": "DATASET",
            "licence": None,
            "dataObjectsAccessGranted": True,
            "dataObjectsFilesAccessGranted": True,
            "tags": [],
            "properties": {"license": None},
            "geometry": None,
        },
        "links": [
            {"rel": "self", "href": f"http://testserver{API}/datasets/{alpha.urn}"},
            {"rel": "dataobjects", "href": products},
            {"rel": "dataobjects-files", "href": products},
        ],
    }
    beta = page["content"][1]["content"]
    assert (beta["dataObjectsAccessGranted"], beta["dataObjectsFilesAccessGranted"]) == (
        False,
        False,
    )


def test_dataset_flags_follow_the_callers_rights_without_a_query_per_dataset(
    client_for, django_assert_max_num_queries
):
    """FULL_ACCESS grants the products, INHERITED_ACCESS their private files as well."""
    user = UserFactory()
    group = AccessGroupFactory(members=[user])
    levels, files = AccessRight.MetadataAccess, AccessRight.FileAccess
    rights = {
        "A files": (levels.FULL_ACCESS, files.INHERITED_ACCESS),
        "B products": (levels.FULL_ACCESS, files.NO_ACCESS),
        "C restricted": (levels.RESTRICTED_ACCESS, files.NO_ACCESS),
    }
    for label, (metadata, file_access) in rights.items():
        AccessRightFactory(
            group=group,
            dataset=DatasetFactory(label=label),
            metadata_access=metadata,
            file_access=file_access,
        )
    client = client_for(user)
    client.get(DATASET_SEARCH)  # the token's first use writes its last-used time

    with django_assert_max_num_queries(4):
        page = search(client, DATASET_SEARCH)

    flags = {
        entry["content"]["label"]: (
            entry["content"]["dataObjectsAccessGranted"],
            entry["content"]["dataObjectsFilesAccessGranted"],
        )
        for entry in page["content"]
    }
    assert flags == {
        "A files": (True, True),
        "B products": (True, False),
        "C restricted": (False, False),
    }


def test_a_steward_is_granted_every_datasets_products_and_files(client_for, datasets):
    page = search(client_for(UserFactory(steward=True)), DATASET_SEARCH)

    assert len(page["content"]) == 4
    for entry in page["content"]:
        assert entry["content"]["dataObjectsAccessGranted"] is True
        assert entry["content"]["dataObjectsFilesAccessGranted"] is True


def test_the_dataobjects_links_search_the_datasets_products(api_client, catalog, datasets):
    (alpha,) = search(api_client, DATASET_SEARCH, q='label:"Alpha full"')["content"]
    links = links_by_rel(alpha)

    for rel in ("dataobjects", "dataobjects-files"):
        page = search(api_client, links[rel].removeprefix("http://testserver"))
        products = datasets["Alpha full"].products.values_list("urn", flat=True)
        assert [entry["content"]["id"] for entry in page["content"]] == list(products)


def test_dataset_search_pages(api_client, datasets):
    page = search(api_client, DATASET_SEARCH, size=1, page=1)

    assert page["metadata"] == {"size": 1, "totalElements": 2, "totalPages": 2, "number": 1}
    assert [entry["content"]["label"] for entry in page["content"]] == ["Beta restricted"]
    assert {rel: query_of(href)["page"] for rel, href in links_by_rel(page).items()} == {
        "self": ["1"],
        "prev": ["0"],
    }


@pytest.mark.parametrize(
    ("q", "labels"),
    [
        ("label:Alpha*", ["Alpha full"]),
        ('label:"beta restricted"', ["Beta restricted"]),
        ("restricted", ["Beta restricted"]),
        ("Alpha OR Beta", ["Alpha full", "Beta restricted"]),
        ("NOT label:Alpha*", ["Beta restricted"]),
        ("Gamma", []),  # no metadata access: never found
    ],
)
def test_dataset_search_takes_a_lucene_query(api_client, datasets, q, labels):
    page = search(api_client, DATASET_SEARCH, q=q)

    assert [entry["content"]["label"] for entry in page["content"]] == labels


def test_dataset_search_finds_a_dataset_by_id(api_client, datasets):
    urn = datasets["Alpha full"].urn

    page = search(api_client, DATASET_SEARCH, q=f'id:"{urn}"')

    assert [entry["content"]["id"] for entry in page["content"]] == [urn]


def test_dataset_search_sorts_by_label_or_id(api_client, datasets):
    page = search(api_client, DATASET_SEARCH, sort="label,DESC")

    assert [entry["content"]["label"] for entry in page["content"]] == [
        "Beta restricted",
        "Alpha full",
    ]
    assert_api_error(
        api_client.get(DATASET_SEARCH, {"sort": "providerId,ASC"}), 400, "invalid_request"
    )


def test_dataset_search_refuses_product_fields(api_client, datasets):
    response = api_client.get(DATASET_SEARCH, {"q": "tags:radar"})

    assert_api_error(response, 400, "invalid_query")
    assert "the fields are id, label" in response.json()["message"]


def test_dataset_self_link_leads_to_the_wrapped_dataset(api_client, datasets):
    (entry, _) = search(api_client, DATASET_SEARCH)["content"]

    response = api_client.get(entry["links"][0]["href"].removeprefix("http://testserver"))
    by_urn = api_client.get(f"{API}/entities/{entry['content']['id']}")

    assert response.status_code == by_urn.status_code == 200
    assert response.json() == by_urn.json() == entry


def test_dataset_detail_names_its_license(api_client, open_dataset):
    open_dataset.license = LicenseFactory(
        slug="cc-by-4.0", title="CC BY 4.0", url="https://creativecommons.org/licenses/by/4.0/"
    )
    open_dataset.save()

    response = api_client.get(f"{API}/datasets/{open_dataset.urn}")

    assert response.status_code == 200
    content = response.json()["content"]
    assert content["licence"] == "https://creativecommons.org/licenses/by/4.0/"
    assert content["properties"]["license"] == {
        "id": "cc-by-4.0",
        "title": "CC BY 4.0",
        "url": "https://creativecommons.org/licenses/by/4.0/",
        "version": 1,
    }


def test_restricted_dataset_detail_is_visible(api_client, datasets):
    dataset = datasets["Beta restricted"]

    response = api_client.get(f"{API}/datasets/{dataset.urn}")

    assert response.status_code == 200
    assert response.json()["content"]["id"] == dataset.urn
    assert response.json()["content"]["dataObjectsAccessGranted"] is False


@pytest.mark.parametrize("urn", [MISSING_DATASET, "not-a-urn"])
def test_unknown_dataset_is_not_found(api_client, datasets, urn):
    assert_api_error(api_client.get(f"{API}/datasets/{urn}"), 404, "not_found")
    assert_api_error(api_client.get(f"{API}/datasets/{urn}/dataobjects/search"), 404, "not_found")


@pytest.mark.parametrize("label", ["Gamma no access", "Delta no right"])
def test_invisible_dataset_is_forbidden(api_client, client_for, datasets, label):
    urn = datasets[label].urn
    user_client = client_for(UserFactory())

    assert_api_error(api_client.get(f"{API}/datasets/{urn}"), 401, "forbidden")
    assert_api_error(api_client.get(f"{API}/entities/{urn}"), 401, "forbidden")
    assert_api_error(user_client.get(f"{API}/datasets/{urn}"), 403, "forbidden")
    assert_api_error(user_client.get(f"{API}/entities/{urn}"), 403, "forbidden")
    assert_api_error(user_client.get(f"{API}/datasets/{urn}/dataobjects/search"), 403, "forbidden")


def test_dataset_product_search_holds_only_that_datasets_products(api_client, catalog, datasets):
    alpha = datasets["Alpha full"]
    ProductFactory(dataset=alpha, provider_id="ALPHA_2", tags=["optical"])

    page = search(api_client, f"{API}/datasets/{alpha.urn}/dataobjects/search", sort="providerId")
    filtered = search(
        api_client, f"{API}/datasets/{alpha.urn}/dataobjects/search", q="tags:optical"
    )

    assert page["metadata"]["totalElements"] == 2
    alpha_urns = set(alpha.products.values_list("urn", flat=True))
    assert {entry["content"]["id"] for entry in page["content"]} == alpha_urns
    assert provider_ids(filtered) == ["ALPHA_2"]
    assert query_of(links_by_rel(page)["self"])["sort"] == ["providerId"]


def test_restricted_dataset_product_search_is_an_empty_page(api_client, datasets):
    dataset = datasets["Beta restricted"]
    assert dataset.products.exists()

    page = search(api_client, f"{API}/datasets/{dataset.urn}/dataobjects/search")

    assert page["metadata"] == {"size": 20, "totalElements": 0, "totalPages": 0, "number": 0}
    assert page["content"] == []
