"""The OpenSearch engine (issue 11 §5): its description document, and its search answering
Atom and GeoJSON, through HTTP."""

import datetime
import re
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlencode, urlsplit

import feedparser
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from products.models import AccessRight, DataFile
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    DataFileFactory,
    DatasetFactory,
    ProductFactory,
    UserFactory,
)
from tests.helpers import assert_api_error

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("search_links")]

API = "/api/v1/rs-catalog/engines/opensearch/dataobjects/search"
DESCRIPTION = f"{API}/opensearchdescription.xml"
ATOM = "application/atom+xml"
GEOJSON = "application/geo+json"
NS = {
    "os": "http://a9.com/-/spec/opensearch/1.1/",
    "geo": "http://a9.com/-/opensearch/extensions/geo/1.0/",
    "time": "http://a9.com/-/opensearch/extensions/time/1.0/",
    "eo": "http://a9.com/-/opensearch/extensions/eo/1.0/",
    "parameters": "http://a9.com/-/spec/opensearch/extensions/parameters/1.0/",
    "atom": "http://www.w3.org/2005/Atom",
}
UTC = datetime.UTC


def when(day, hour=0):
    return datetime.datetime(2022, 6, day, hour, tzinfo=UTC)


@pytest.fixture
def catalog(open_dataset):
    """Four products that platform, cloud cover, dates and geometry tell apart."""
    return {
        "toulouse": ProductFactory(
            dataset=open_dataset,
            provider_id="S2A_TOULOUSE",
            label="Sentinel-2 over Toulouse",
            properties={"platform": "SENTINEL-2A", "cloud_cover": 12.5, "orbit": 10},
            start_date=when(10, 10),
            end_date=when(10, 11),
            geometry={"type": "Point", "coordinates": [1.44, 43.6]},
        ),
        "paris": ProductFactory(
            dataset=open_dataset,
            provider_id="S2B_PARIS",
            label="Sentinel-2 over Paris",
            properties={"platform": "SENTINEL-2B", "cloud_cover": 80, "orbit": 20},
            start_date=when(12, 10),
            end_date=when(12, 11),
            geometry={
                "type": "Polygon",
                "coordinates": [[[2.2, 48.8], [2.5, 48.8], [2.5, 49.0], [2.2, 48.8]]],
            },
        ),
        "radar": ProductFactory(
            dataset=open_dataset,
            provider_id="S1A_RADAR",
            label="Sentinel-1 radar swath",
            properties={"platform": "SENTINEL-1A", "cloud_cover": 0, "orbit": 30},
            start_date=when(14, 10),
            end_date=when(16, 10),
        ),
        "landsat": ProductFactory(
            dataset=open_dataset, provider_id="LANDSAT", label="Landsat scene"
        ),
    }


def atom(client, **params):
    response = client.get(API, params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith(ATOM)
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception  # well-formed XML
    return feed


def provider_ids(feed):
    return [entry["dc_identifier"] for entry in feed.entries]


def geojson(client, **params):
    response = client.get(API, {**params, "format": "json"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == GEOJSON
    return response.json()


def links_of(feed):
    return {link["rel"]: link["href"] for link in feed.feed.links}


def query_of(href):
    return {name: values[0] for name, values in parse_qs(urlsplit(href).query).items()}


def download_uri(data_file):
    path = f"/api/v1/rs-catalog/downloads/{data_file.product.urn}/files/{data_file.checksum}"
    return f"http://testserver{path}"


# The description document


def description(client):
    response = client.get(DESCRIPTION)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/opensearchdescription+xml")
    return response


def test_description_is_opensearch_xml_declaring_its_extensions(api_client, catalog):
    response = description(api_client)

    root = ET.fromstring(response.content)  # raises if not well-formed
    assert root.tag == f"{{{NS['os']}}}OpenSearchDescription"
    declared = dict(re.findall(rb'xmlns:(\w+)="([^"]+)"', response.content))
    for prefix in ("geo", "time", "eo", "parameters"):
        assert declared[prefix.encode()] == NS[prefix].encode()
    assert root.find("os:ShortName", NS).text == "REGARDS Catalog"
    self_url = root.find("os:Url[@rel='self']", NS)
    assert self_url.get("template") == f"http://testserver{DESCRIPTION}"


def test_description_has_an_atom_and_a_geojson_template_with_our_parameters(api_client, catalog):
    root = ET.fromstring(description(api_client).content)

    urls = {url.get("type"): url for url in root.findall("os:Url[@rel='results']", NS)}
    assert set(urls) == {ATOM, GEOJSON}
    for media_type, url in urls.items():
        template = url.get("template")
        assert template.startswith(f"http://testserver{API}?")
        query = query_of(template)
        assert query["format"] == {ATOM: "atom", GEOJSON: "json"}[media_type]
        assert query["q"] == "{searchTerms?}"
        assert query["startIndex"] == "{startIndex?}"
        assert query["count"] == "{count?}"
        assert query["start"] == "{time:start?}"
        assert query["end"] == "{time:end?}"
        assert query["box"] == "{geo:box?}"
        assert query["geometry"] == "{geo:geometry?}"
        assert query["platform"] == "{eo:platform?}"
        assert query["cloudCover"] == "{eo:cloudCover?}"
        parameters = {p.get("name"): p for p in url.findall("parameters:Parameter", NS)}
        assert set(parameters) == set(query) - {"format"}
        for name, parameter in parameters.items():
            assert parameter.get("value") == query[name].replace("?", "")
            assert parameter.get("title")
        assert parameters["count"].get("maxInclusive") == "1000"
        assert parameters["startIndex"].get("minInclusive") == "1"


def test_description_lists_the_platforms_the_caller_sees_as_options(
    api_client, client_for, catalog
):
    hidden = DatasetFactory()
    ProductFactory(dataset=hidden, properties={"platform": "SECRET-SAT"})
    insider = UserFactory()
    AccessRightFactory(group=AccessGroupFactory(members=[insider]), dataset=hidden)

    def platforms(client):
        root = ET.fromstring(description(client).content)
        url = root.find(f"os:Url[@type='{ATOM}']", NS)
        parameter = url.find("parameters:Parameter[@name='platform']", NS)
        return [option.get("value") for option in parameter.findall("parameters:Option", NS)]

    assert platforms(api_client) == ["SENTINEL-1A", "SENTINEL-2A", "SENTINEL-2B"]
    assert "SECRET-SAT" in platforms(client_for(insider))


def test_description_bounds_the_options_it_lists(api_client, open_dataset):
    for number in range(60):
        ProductFactory(dataset=open_dataset, properties={"platform": f"SAT-{number:02d}"})

    root = ET.fromstring(description(api_client).content)

    url = root.find(f"os:Url[@type='{ATOM}']", NS)
    options = url.findall("parameters:Parameter[@name='platform']/parameters:Option", NS)
    assert len(options) == 50


# The Atom feed


def test_atom_feed_parses_with_totals_and_entries(api_client, catalog):
    feed = atom(api_client, count=3)

    assert feed.version == "atom10"
    assert feed.feed["opensearch_totalresults"] == "4"
    assert feed.feed["opensearch_startindex"] == "1"
    assert feed.feed["opensearch_itemsperpage"] == "3"
    assert provider_ids(feed) == ["S2A_TOULOUSE", "S2B_PARIS", "S1A_RADAR"]
    toulouse = feed.entries[0]
    assert toulouse.id == catalog["toulouse"].urn
    assert toulouse.title == "Sentinel-2 over Toulouse"
    assert toulouse["where"]["coordinates"] == (1.44, 43.6)  # georss:point, as lon/lat
    assert (
        toulouse.link
        == f"http://testserver/api/v1/rs-catalog/engines/legacy/dataobjects/{catalog['toulouse'].urn}"
    )


def test_entries_tell_when_they_changed_and_the_time_they_cover(api_client, catalog):
    response = api_client.get(API, {"q": "providerId:S2A_TOULOUSE"})

    # feedparser reads dc:date as `updated`: the raw elements are checked instead.
    (entry,) = ET.fromstring(response.content).findall("atom:entry", NS)
    updated = datetime.datetime.fromisoformat(entry.find("atom:updated", NS).text)
    assert updated == catalog["toulouse"].updated
    dates = entry.find("{http://purl.org/dc/elements/1.1/}date").text
    assert dates == "2022-06-10T10:00:00+00:00/2022-06-10T11:00:00+00:00"


def test_atom_is_the_default_and_follows_accept(api_client, catalog):
    assert api_client.get(API)["Content-Type"].startswith(ATOM)
    assert api_client.get(API, HTTP_ACCEPT=ATOM)["Content-Type"].startswith(ATOM)
    assert api_client.get(API, HTTP_ACCEPT=GEOJSON)["Content-Type"] == GEOJSON
    assert api_client.get(API, HTTP_ACCEPT="application/json")["Content-Type"] == GEOJSON
    assert api_client.get(API, {"format": "atom"}, HTTP_ACCEPT=GEOJSON)["Content-Type"].startswith(
        ATOM
    )


def test_polygon_becomes_a_georss_polygon(api_client, catalog):
    feed = atom(api_client, q="providerId:S2B_PARIS")

    (paris,) = feed.entries
    assert paris["where"]["type"] == "Polygon"
    assert paris["where"]["coordinates"][0][:2] == [(2.2, 48.8), (2.5, 48.8)]


def test_enclosures_are_the_download_uris_of_the_files(api_client, catalog):
    product = catalog["toulouse"]
    image = DataFileFactory(product=product, mime_type="image/tiff", filesize=1234)
    quicklook = DataFileFactory(
        product=product, data_type=DataFile.DataType.QUICKLOOK_SD, mime_type="image/png"
    )

    (entry,) = atom(api_client, q="providerId:S2A_TOULOUSE").entries

    enclosures = {(e["href"], e["type"], e["length"]) for e in entry.enclosures}
    assert enclosures == {
        (download_uri(image), "image/tiff", "1234"),
        (download_uri(quicklook), "image/png", str(quicklook.filesize)),
    }
    legacy = api_client.get(
        "/api/v1/rs-catalog/engines/legacy/dataobjects/search", {"q": "providerId:S2A_TOULOUSE"}
    ).json()["content"][0]["content"]["files"]
    assert {f["uri"] for files in legacy.values() for f in files} == {
        e["href"] for e in entry.enclosures
    }


def test_enclosures_never_carry_the_token(api_client, catalog, token_for):
    DataFileFactory(product=catalog["toulouse"])
    token = token_for(UserFactory())

    response = api_client.get(API, {"token": token})

    assert response.status_code == 200
    assert token.encode() not in response.content
    assert b"token=" not in response.content


def test_atom_paging_links(api_client, catalog):
    feed = atom(api_client, startIndex=2, count=1, q="label:*")

    links = links_of(feed)
    assert set(links) == {"self", "alternate", "first", "previous", "next", "last", "search"}
    starts = {rel: query_of(href)["startIndex"] for rel, href in links.items() if rel != "search"}
    assert starts == {
        "self": "2",
        "alternate": "2",
        "first": "1",
        "previous": "1",
        "next": "3",
        "last": "4",
    }
    assert query_of(links["next"])["q"] == "label:*"
    assert links["search"] == f"http://testserver{DESCRIPTION}"


def test_start_page_counts_pages_of_count_results(api_client, catalog):
    feed = atom(api_client, startPage=2, count=3)

    assert provider_ids(feed) == ["LANDSAT"]
    assert feed.feed["opensearch_startindex"] == "4"
    assert "next" not in links_of(feed)


def test_count_above_the_maximum_is_clamped(api_client, catalog):
    feed = atom(api_client, count=5000)

    assert feed.feed["opensearch_itemsperpage"] == "1000"
    assert len(feed.entries) == 4


def test_blank_optional_parameters_count_as_absent(api_client, catalog):
    feed = atom(api_client, q="", startIndex="", count="", start="", box="", platform="")

    assert len(feed.entries) == 4
    assert feed.feed["opensearch_itemsperpage"] == "20"


def test_a_start_beyond_the_end_is_an_empty_page_linking_back(api_client, catalog):
    feed = atom(api_client, startIndex=10, count=3)

    assert feed.entries == []
    assert feed.feed["opensearch_totalresults"] == "4"
    links = links_of(feed)
    assert query_of(links["previous"])["startIndex"] == "7"
    assert query_of(links["last"])["startIndex"] == "4"
    assert "next" not in links


@pytest.mark.parametrize("answer_format", ["atom", "json"])
def test_a_page_costs_the_same_queries_however_many_products_and_files(
    api_client, open_dataset, answer_format
):
    def queries_for_a_page():
        with CaptureQueriesContext(connection) as queries:
            response = api_client.get(API, {"format": answer_format, "cloudCover": "[0,100]"})
            assert response.status_code == 200
        # PostgreSQL's list of indexes is read once a minute, not per page.
        return len([q for q in queries if "pg_indexes" not in q["sql"]])

    product = ProductFactory(dataset=open_dataset, properties={"cloud_cover": 1})
    DataFileFactory(product=product)
    one = queries_for_a_page()
    for product in ProductFactory.create_batch(
        19, dataset=open_dataset, properties={"cloud_cover": 2}
    ):
        DataFileFactory(product=product)
        DataFileFactory(product=product, data_type=DataFile.DataType.THUMBNAIL)

    assert queries_for_a_page() == one


# Search parameters


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "label:*Sentinel-2*"}, ["S2A_TOULOUSE", "S2B_PARIS"]),
        ({"searchTerms": "radar"}, ["S1A_RADAR"]),
        ({"platform": "SENTINEL-2B"}, ["S2B_PARIS"]),
        ({"platform": "SENTINEL"}, []),
        ({"cloudCover": "[0,20]"}, ["S2A_TOULOUSE", "S1A_RADAR"]),
        ({"cloudCover": "]0,20]"}, ["S2A_TOULOUSE"]),
        ({"cloudCover": "[0,12.5["}, ["S1A_RADAR"]),
        ({"cloudCover": "[50"}, ["S2B_PARIS"]),
        ({"cloudCover": "]80"}, []),
        ({"cloudCover": "12.5]"}, ["S2A_TOULOUSE", "S1A_RADAR"]),
        ({"cloudCover": "12.5["}, ["S1A_RADAR"]),
        ({"cloudCover": "80"}, ["S2B_PARIS"]),
        ({"orbitNumber": "{10,30}"}, ["S2A_TOULOUSE", "S1A_RADAR"]),
        ({"cloudCover": "[-5,1]", "platform": "SENTINEL-1A"}, ["S1A_RADAR"]),
        ({"start": "2022-06-12T10:30:00Z"}, ["S2B_PARIS", "S1A_RADAR"]),
        ({"start": "2022-06-15"}, ["S1A_RADAR"]),
        ({"end": "2022-06-12"}, ["S2A_TOULOUSE", "S2B_PARIS"]),
        ({"end": "2022-06-12T09:00:00Z"}, ["S2A_TOULOUSE"]),
        ({"start": "2022-06-12", "end": "2022-06-12"}, ["S2B_PARIS"]),
        ({"end": "9999-12-31"}, ["S2A_TOULOUSE", "S2B_PARIS", "S1A_RADAR"]),
        ({"start": "2022-06-11", "end": "2022-06-13T00:00:00+02:00"}, ["S2B_PARIS"]),
        ({"q": "Sentinel", "cloudCover": "[0,50]", "end": "2022-06-11"}, ["S2A_TOULOUSE"]),
    ],
)
def test_parameters_select_products(api_client, catalog, params, expected):
    assert provider_ids(atom(api_client, **params)) == expected


def test_eo_text_values_are_matched_exactly_whatever_they_hold(api_client, open_dataset):
    ProductFactory(dataset=open_dataset, provider_id="ODD", properties={"platform": 'A "B" \\ C'})
    ProductFactory(dataset=open_dataset, provider_id="NUMBER", properties={"platform": "12"})

    assert provider_ids(atom(api_client, platform='A "B" \\ C')) == ["ODD"]
    assert provider_ids(atom(api_client, platform="12")) == ["NUMBER"]
    assert provider_ids(atom(api_client, platform="*")) == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"startIndex": "0"}, "startIndex"),
        ({"startIndex": "-1"}, "startIndex"),
        ({"startIndex": "x"}, "startIndex"),
        ({"startIndex": "1e3"}, "startIndex"),
        ({"startIndex": str(10**9 + 1)}, "startIndex"),
        ({"startPage": "0"}, "startPage"),
        ({"count": "0"}, "count"),
        ({"count": "ten"}, "count"),
        ({"count": "9" * 40}, "count"),
        ({"start": "yesterday"}, "time:start"),
        ({"start": "2022-02-30"}, "time:start"),
        ({"end": "2022-06-12T25:00:00Z"}, "time:end"),
        ({"end": "2022-06-12T10:00:00+99:00"}, "time:end"),
        ({"start": "0001-01-01T00:00:00+01:00"}, "time:start"),
        ({"end": "9999-12-31T23:00:00-02:00"}, "time:end"),
        ({"start": "2022-06-12", "end": "2022-06-11"}, "time:start is after time:end"),
        ({"format": "rss"}, "format"),
        ({"cloudCover": "lots"}, "cloudCover"),
        ({"cloudCover": "[0,10"}, "cloudCover"),
        ({"cloudCover": "1e999"}, "cloudCover"),
        ({"orbitNumber": "{1,x}"}, "orbitNumber"),
        ({"platform": "x" * 3000}, "platform"),
        ({"q": "a", "searchTerms": "b"}, "searchTerms"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_parameters_are_a_400_naming_them(api_client, catalog, params, message):
    body = assert_api_error(api_client.get(API, params), 400, "invalid_request")

    assert message in body["message"]


@pytest.mark.parametrize(
    ("name", "value", "found"),
    [
        ("box", "0,40,5,45", ["S2A_TOULOUSE"]),  # Toulouse's point, not Paris's polygon
        ("box", "2.4,48.7,3,48.85", ["S2B_PARIS"]),  # a corner of the polygon
        ("geometry", "POLYGON((1 43, 2 43, 2 44, 1 44, 1 43))", ["S2A_TOULOUSE"]),
        # Inside Paris's bounding box, outside its triangle: not a match.
        ("geometry", "POINT(2.45 48.98)", []),
    ],
)
def test_geo_parameters_select_the_products_they_intersect(api_client, catalog, name, value, found):
    assert provider_ids(atom(api_client, **{name: value})) == found


@pytest.mark.parametrize(("name", "value"), [("box", "0,40,5"), ("geometry", "POINT(1)")])
def test_a_malformed_geo_parameter_is_a_400(api_client, catalog, name, value):
    assert_api_error(api_client.get(API, {name: value}), 400, "invalid_request")


def test_a_malformed_lucene_query_is_an_invalid_query(api_client, catalog):
    assert_api_error(api_client.get(API, {"q": "label:(a"}), 400, "invalid_query")


def test_errors_are_json_whatever_format_was_asked(api_client, catalog):
    assert_api_error(api_client.get(API, {"count": "0", "format": "atom"}), 400, "invalid_request")
    assert_api_error(api_client.get(API, {"count": "0"}, HTTP_ACCEPT=ATOM), 400, "invalid_request")


# Access rules


def test_products_of_a_dataset_the_caller_cannot_see_never_appear(api_client, client_for, catalog):
    hidden = DatasetFactory()
    secret = ProductFactory(dataset=hidden, provider_id="SECRET", label="Sentinel secret")
    restricted_group = AccessGroupFactory(public=True, name="restricted")
    restricted = DatasetFactory()
    AccessRightFactory(
        group=restricted_group,
        dataset=restricted,
        metadata_access=AccessRight.MetadataAccess.RESTRICTED_ACCESS,
    )
    ProductFactory(dataset=restricted, provider_id="RESTRICTED", label="Sentinel restricted")
    insider = UserFactory()
    AccessRightFactory(group=AccessGroupFactory(members=[insider]), dataset=hidden)

    anonymous = atom(api_client, q="Sentinel", count=100)
    assert "SECRET" not in provider_ids(anonymous)
    assert "RESTRICTED" not in provider_ids(anonymous)
    assert anonymous.feed["opensearch_totalresults"] == "3"
    assert secret.urn not in [f["id"] for f in geojson(api_client)["features"]]
    assert "SECRET" in provider_ids(atom(client_for(insider), q="Sentinel"))


def test_private_file_enclosures_only_for_callers_who_may_download_them(
    api_client, client_for, public_group
):
    dataset = DatasetFactory()
    AccessRightFactory(
        group=public_group, dataset=dataset, file_access=AccessRight.FileAccess.NO_ACCESS
    )
    product = ProductFactory(dataset=dataset)
    raw = DataFileFactory(product=product)
    quicklook = DataFileFactory(product=product, data_type=DataFile.DataType.QUICKLOOK_SD)
    downloader = UserFactory()
    AccessRightFactory(group=AccessGroupFactory(members=[downloader]), dataset=dataset)

    def enclosures(client):
        (entry,) = atom(client).entries
        return {enclosure["href"] for enclosure in entry.enclosures}

    assert enclosures(api_client) == {download_uri(quicklook)}
    assert enclosures(client_for(downloader)) == {download_uri(raw), download_uri(quicklook)}


# GeoJSON


def test_geojson_answer_is_a_feature_collection_of_legacy_products(api_client, catalog):
    raw = DataFileFactory(product=catalog["toulouse"])

    collection = geojson(api_client, count=2)

    assert collection["type"] == "FeatureCollection"
    assert (collection["totalResults"], collection["startIndex"], collection["itemsPerPage"]) == (
        4,
        1,
        2,
    )
    toulouse, paris = collection["features"]
    assert toulouse["type"] == "Feature"
    assert toulouse["id"] == catalog["toulouse"].urn
    assert toulouse["geometry"] == {"type": "Point", "coordinates": [1.44, 43.6]}
    assert toulouse["properties"]["providerId"] == "S2A_TOULOUSE"
    assert toulouse["properties"]["properties"]["platform"] == "SENTINEL-2A"
    assert [f["uri"] for f in toulouse["properties"]["files"]["RAWDATA"]] == [download_uri(raw)]
    assert paris["geometry"]["type"] == "Polygon"
    links = {link["rel"]: link["href"] for link in collection["links"]}
    assert set(links) == {"self", "first", "next", "last"}
    assert query_of(links["next"]) == {"format": "json", "count": "2", "startIndex": "3"}


def test_empty_search_is_an_empty_collection(api_client, catalog):
    collection = geojson(api_client, platform="NONE")

    assert collection["totalResults"] == 0
    assert collection["features"] == []
    assert "next" not in {link["rel"] for link in collection["links"]}


# A generic OpenSearch client


def fill_template(template, values):
    """Fill an OpenSearch 1.1 URL template: `{name}` and `{name?}` take the value given,
    optional ones without a value become empty, as the specification says."""

    def replace(match):
        name, optional = match[1], match[2] == "?"
        if name in values:
            return urlencode({"": values[name]})[1:]
        if optional:
            return ""
        raise AssertionError(f"no value for the required parameter {name}")

    return re.sub(r"\{([^}?]+)(\??)\}", replace, template)


def test_a_generic_client_reads_the_description_and_pages_through_every_result(
    api_client, open_dataset
):
    products = [
        ProductFactory(dataset=open_dataset, label=f"Scene {n}", properties={"platform": "X"})
        for n in range(11)
    ]
    ProductFactory(dataset=open_dataset, label="Other", properties={"platform": "Y"})

    root = ET.fromstring(api_client.get(DESCRIPTION).content)
    template = root.find(f"os:Url[@type='{ATOM}']", NS).get("template")
    index_offset = int(root.find(f"os:Url[@type='{ATOM}']", NS).get("indexOffset"))
    url = fill_template(
        template,
        {"searchTerms": "Scene", "count": "4", "startIndex": str(index_offset), "eo:platform": "X"},
    )
    seen, pages = [], 0
    while url:
        path = urlsplit(url)
        response = api_client.get(f"{path.path}?{path.query}")
        assert response.status_code == 200, response.content
        feed = feedparser.parse(response.content)
        assert feed.feed["opensearch_totalresults"] == "11"
        seen += [entry.id for entry in feed.entries]
        pages += 1
        url = links_of(feed).get("next")

    assert pages == 3
    assert sorted(seen) == sorted(product.urn for product in products)
    assert len(seen) == len(set(seen))
