"""The legacy engine's parameters besides q (g, lat/lon/r, box, exists, hasImage), unknown
parameters, the size clamp, dataset URNs in tags and the GeoJSON Feature fields, through HTTP."""

import math

import pyproj
import pytest
import shapely
from shapely.geometry import shape

from products.models import AccessRight, DataFile, Product
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

API = "/api/v1/rs-catalog/engines/legacy"
SEARCH = f"{API}/dataobjects/search"
WGS84 = pyproj.Geod(ellps="WGS84")


@pytest.fixture
def make(open_dataset):
    """make(name, geometry=None, **fields) → a product of the open dataset, named by its
    providerId."""

    def make_product(name, geometry=None, **fields):
        return ProductFactory(
            dataset=fields.pop("dataset", open_dataset),
            provider_id=name,
            geometry=geometry,
            **fields,
        )

    return make_product


def point(lon, lat):
    return {"type": "Point", "coordinates": [lon, lat]}


def polygon(*corners):
    return {"type": "Polygon", "coordinates": [[*map(list, corners), list(corners[0])]]}


def at(lon, lat, metres, azimuth):
    """The point `metres` away from (lon, lat) along the ellipsoid, towards `azimuth`."""
    lon2, lat2, _ = WGS84.fwd(lon, lat, azimuth, metres)
    return point(lon2, lat2)


def search(client, path=SEARCH, **params):
    response = client.get(path, params)
    assert response.status_code == 200, response.content
    return response.json()


def found(client, path=SEARCH, **params):
    return {entry["content"]["providerId"] for entry in search(client, path, **params)["content"]}


# Dataset URNs in tags


def test_tags_of_a_result_end_with_its_dataset_urn(api_client, make, open_dataset):
    make("TAGGED", tags=["optical"])

    (entry,) = search(api_client)["content"]

    assert entry["content"]["tags"] == ["optical", open_dataset.urn]


def test_a_dataset_urn_in_tags_finds_the_products_of_that_dataset(api_client, make, open_dataset):
    other = DatasetFactory()
    AccessRightFactory(group=AccessGroupFactory(name="public"), dataset=other)
    make("IN_OPEN")
    make("IN_OTHER", dataset=other)

    assert found(api_client, q=f'tags:"{open_dataset.urn}"') == {"IN_OPEN"}
    assert found(api_client, q=f'tags:"{other.urn}"') == {"IN_OTHER"}
    assert found(api_client, q=f'NOT tags:"{open_dataset.urn}"') == {"IN_OTHER"}
    assert found(api_client, q=f'tags:("{open_dataset.urn}" OR "{other.urn}")') == {
        "IN_OPEN",
        "IN_OTHER",
    }


def test_a_dataset_urn_in_tags_may_hold_wildcards(api_client, make, open_dataset):
    other = DatasetFactory(urn="URN:AIP:DATASET:other:00000000-1111-4111-8111-111111111111:V1")
    AccessRightFactory(group=AccessGroupFactory(name="public"), dataset=other)
    make("IN_OPEN")
    make("IN_OTHER", dataset=other)
    uuid = open_dataset.urn.split(":")[4]

    assert found(api_client, q=r"tags:URN\:AIP\:DATASET\:test\:*") == {"IN_OPEN"}
    assert found(api_client, q=f"tags:*{uuid}*") == {"IN_OPEN"}
    assert found(api_client, q=r"tags:URN\:AIP\:DATASET\:othe?\:*") == {"IN_OTHER"}


def test_the_dataset_urn_is_read_from_the_dataset_not_stored(api_client, make, open_dataset):
    product = make("MOVED")
    moved_to = DatasetFactory()
    AccessRightFactory(group=AccessGroupFactory(name="public"), dataset=moved_to)
    Product.objects.filter(pk=product.pk).update(dataset=moved_to)

    assert found(api_client, q=f'tags:"{open_dataset.urn}"') == set()
    (entry,) = search(api_client, q=f'tags:"{moved_to.urn}"')["content"]
    assert entry["content"]["tags"] == [moved_to.urn]
    assert Product.objects.get(pk=product.pk).tags == []


# g: a WKT geometry


def test_g_finds_the_products_whose_geometry_intersects_it(api_client, make):
    make("INSIDE", point(1.5, 43.5))
    make("CROSSING", polygon((0, 0), (5, 0), (5, 50), (0, 50)))
    make("OUTSIDE", point(10, 10))
    make("NO_GEOMETRY")

    assert found(api_client, g="POLYGON((1 43, 2 43, 2 44, 1 44, 1 43))") == {"INSIDE", "CROSSING"}
    assert found(api_client, g="POINT(10 10)") == {"OUTSIDE"}
    assert found(api_client, g="LINESTRING(-10 -10, -5 -5)") == set()


def test_g_is_exact_where_boxes_overlap_but_shapes_do_not(api_client, make):
    # A triangle whose bounding box covers (9, 9), though the triangle does not.
    make("TRIANGLE", polygon((0, 0), (10, 0), (0, 10)))

    assert found(api_client, g="POLYGON((8 8, 9.5 8, 9.5 9.5, 8 9.5, 8 8))") == set()
    assert found(api_client, g="POINT(9 9)") == set()
    assert found(api_client, g="POINT(4 4)") == {"TRIANGLE"}
    assert found(api_client, g="LINESTRING(9 9, 4 4)") == {"TRIANGLE"}


def test_g_matching_only_at_a_corner_counts_as_intersecting(api_client, make):
    make("SQUARE", polygon((0, 0), (1, 0), (1, 1), (0, 1)))

    assert found(api_client, g="POLYGON((1 1, 2 1, 2 2, 1 2, 1 1))") == {"SQUARE"}
    assert found(api_client, g="POLYGON((1.0001 1, 2 1, 2 2, 1.0001 2, 1.0001 1))") == set()


def test_g_answers_what_shapely_answers(api_client, make):
    """Random shapes against random queries: the API's answer is shapely's intersects."""
    shapes = {
        "RING": shapely.Point(3, 3).buffer(2).difference(shapely.Point(3, 3).buffer(1)),
        "L": shapely.from_wkt("POLYGON((0 0, 6 0, 6 1, 1 1, 1 6, 0 6, 0 0))"),
        "LINE": shapely.from_wkt("LINESTRING(0 6, 6 0)"),
        "DOTS": shapely.from_wkt("MULTIPOINT((2 2), (5 5))"),
    }
    for name, geometry in shapes.items():
        make(name, shapely.geometry.mapping(geometry))
    queries = [
        "POINT(3 3)",
        "POINT(2 2)",
        "POLYGON((1.5 1.5, 2.5 1.5, 2.5 2.5, 1.5 2.5, 1.5 1.5))",
        "POLYGON((4 4, 6 4, 6 6, 4 6, 4 4))",
        "LINESTRING(3.5 1.2, 5 1.2)",
        "POLYGON((2.9 2.9, 3.1 2.9, 3.1 3.1, 2.9 3.1, 2.9 2.9))",
    ]
    for query in queries:
        expected = {n for n, g in shapes.items() if g.intersects(shapely.from_wkt(query))}
        assert found(api_client, g=query) == expected, query


def test_g_with_thousands_of_parts_is_answered(api_client, make):
    make("ON_A_DOT", point(0.5, 1))
    make("BETWEEN_DOTS", point(0.25, 1))
    make("BETWEEN_BOXES", point(0.75, 0.5))
    dots = ", ".join(f"({n / 2} {n % 2})" for n in range(3000))

    assert found(api_client, g=f"MULTIPOINT({dots})") == {"ON_A_DOT"}
    boxes = ", ".join(f"(({n} 0, {n}.5 0, {n}.5 1, {n} 1, {n} 0))" for n in range(300))
    assert found(api_client, g=f"MULTIPOLYGON({boxes})") == {"ON_A_DOT", "BETWEEN_DOTS"}


@pytest.mark.parametrize(
    "value",
    ["POLYGON((0 0, 1 1))", "CIRCLE(1 2)", "", "POINT EMPTY", "POINT(1)", "POINT(nan 1)"],
)
def test_a_malformed_g_is_refused_naming_it(api_client, value):
    body = assert_api_error(api_client.get(SEARCH, {"g": value}), 400, "invalid_request")

    assert body["message"].startswith("g: ")
    assert body["parameter"] == "g"


# box


def test_box_finds_the_products_whose_geometry_intersects_it(api_client, make):
    make("INSIDE", point(1.5, 43.5))
    make("EDGE", point(2, 44))
    make("TRIANGLE", polygon((0, 40), (10, 40), (0, 50)))  # its box covers (9, 49)
    make("OUTSIDE", point(-1, 43.5))

    assert found(api_client, box="1,43,2,44") == {"INSIDE", "EDGE", "TRIANGLE"}
    assert found(api_client, box="8.5,48.5,9.5,49.5") == set()
    assert found(api_client, box="-1,43.5,-1,43.5") == {"OUTSIDE"}


def test_a_box_across_the_antimeridian_holds_both_sides(api_client, make):
    make("EAST", point(179.5, 0))
    make("WEST", point(-179.5, 0))
    make("GREENWICH", point(0, 0))

    assert found(api_client, box="179,-1,-179,1") == {"EAST", "WEST"}


@pytest.mark.parametrize(
    "value", ["1,2,3", "a,b,c,d", "0,0,1,1,2", "0,91,1,92", "0,10,1,5", "-181,0,1,1", "0,0,inf,1"]
)
def test_a_malformed_box_is_refused_naming_it(api_client, value):
    body = assert_api_error(api_client.get(SEARCH, {"box": value}), 400, "invalid_request")

    assert body["message"].startswith("box: ")
    assert body["parameter"] == "box"


# lat, lon, r: a circle in metres


@pytest.mark.parametrize(("lon", "lat"), [(1.44, 0), (25, 60), (-70, -75)])
def test_a_circle_holds_the_points_within_r_metres(api_client, make, lon, lat):
    make("NEAR", at(lon, lat, 990, 45))
    make("FAR", at(lon, lat, 1010, 45))
    make("NORTH_FAR", at(lon, lat, 1010, 0))
    make("EAST_NEAR", at(lon, lat, 999, 90))

    assert found(api_client, lat=lat, lon=lon, r=1000) == {"NEAR", "EAST_NEAR"}
    assert found(api_client, lat=lat, lon=lon, r=1020) == {"NEAR", "EAST_NEAR", "FAR", "NORTH_FAR"}


def test_a_circle_around_a_pole_reaches_across_it(api_client, make):
    make("OTHER_SIDE", at(0, 89.99, 2000, 0))  # across the pole, at longitude 180
    make("TOO_FAR", at(0, 89.99, 2500, 0))

    assert found(api_client, lat=89.99, lon=0, r=2200) == {"OTHER_SIDE"}
    assert found(api_client, lat=90, lon=0, r=1200) == {"OTHER_SIDE"}


def test_a_circle_across_the_antimeridian(api_client, make):
    make("WEST", at(179.999, 10, 800, 90))
    make("EAST", at(179.999, 10, 800, 270))

    assert found(api_client, lat=10, lon=179.999, r=900) == {"WEST", "EAST"}


def test_a_circle_meets_an_edge_whose_corners_are_far(api_client, make):
    # A long thin strip passing 500 m north of the centre; its corners are 100 km away.
    north = at(0, 45, 500, 0)["coordinates"][1]
    make("STRIP", polygon((-1, north), (1, north), (1, north + 0.01), (-1, north + 0.01)))

    assert found(api_client, lat=45, lon=0, r=510) == {"STRIP"}
    assert found(api_client, lat=45, lon=0, r=490) == set()


def test_a_circle_inside_a_polygon_matches_it(api_client, make):
    make("LARGE", polygon((-10, -10), (10, -10), (10, 10), (-10, 10)))

    assert found(api_client, lat=0, lon=0, r=1) == {"LARGE"}


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"lat": 1, "lon": 2}, "r"),
        ({"lat": 1, "r": 2}, "lon"),
        ({"r": 10}, "lat"),
        ({"lat": "north", "lon": 2, "r": 3}, "lat"),
        ({"lat": 91, "lon": 2, "r": 3}, "lat"),
        ({"lat": 1, "lon": 200, "r": 3}, "lon"),
        ({"lat": 1, "lon": 2, "r": -3}, "r"),
        ({"lat": 1, "lon": 2, "r": "nan"}, "r"),
        ({"lat": 1, "lon": "1e999", "r": 3}, "lon"),
        ({"lat": 1, "lon": 2, "r": "5km"}, "r"),
    ],
)
def test_a_malformed_circle_is_refused_naming_a_parameter(api_client, params, named):
    body = assert_api_error(api_client.get(SEARCH, params), 400, "invalid_request")

    assert body["parameter"] == named
    assert body["message"].startswith(f"{named}: ")


# exists


def test_exists_keeps_the_products_having_the_property(api_client, make):
    make("BOTH", properties={"cloud_cover": 0, "platform": "S2"})
    make("CLOUDS", properties={"cloud_cover": None})
    make("PLATFORM", properties={"platform": "S1"})

    assert found(api_client, exists="properties.cloud_cover") == {"BOTH", "CLOUDS"}
    assert found(api_client, exists="platform") == {"BOTH", "PLATFORM"}
    assert found(api_client, exists="cloud_cover,platform") == {"BOTH"}
    assert found(api_client, exists=["cloud_cover", "properties.platform"]) == {"BOTH"}
    assert found(api_client, exists="orbit") == set()


@pytest.mark.parametrize("value", ["", "properties.", "a-b", "files.dataType", "x,,y"])
def test_a_malformed_exists_is_refused_naming_it(api_client, value):
    body = assert_api_error(api_client.get(SEARCH, {"exists": value}), 400, "invalid_request")

    assert body["parameter"] == "exists"


# hasImage


def test_has_image_keeps_the_products_with_a_quicklook_or_thumbnail(api_client, make):
    types = {
        "QUICKLOOK": DataFile.DataType.QUICKLOOK_SD,
        "HD": DataFile.DataType.QUICKLOOK_HD,
        "THUMBNAIL": DataFile.DataType.THUMBNAIL,
        "RAW": DataFile.DataType.RAWDATA,
    }
    for name, data_type in types.items():
        DataFileFactory(product=make(name), data_type=data_type)
    make("NO_FILE")

    assert found(api_client, hasImage="true") == {"QUICKLOOK", "HD", "THUMBNAIL"}
    assert found(api_client, hasImage="false") == {"RAW", "NO_FILE"}
    assert found(api_client, hasImage="TRUE") == {"QUICKLOOK", "HD", "THUMBNAIL"}


@pytest.mark.parametrize("value", ["yes", "1", ""])
def test_a_malformed_has_image_is_refused(api_client, value):
    body = assert_api_error(api_client.get(SEARCH, {"hasImage": value}), 400, "invalid_request")

    assert body["parameter"] == "hasImage"


# Together, with q, access, paging and totals


def test_parameters_combine_with_q_and_each_other(api_client, make):
    make("A", point(1, 1), label="alpha", properties={"cloud_cover": 1})
    make("B", point(1, 1), label="beta", properties={"cloud_cover": 2})
    make("C", point(1, 1), label="alpha")
    make("D", point(50, 50), label="alpha", properties={"cloud_cover": 3})

    assert found(api_client, q="label:alpha", box="0,0,2,2") == {"A", "C"}
    assert found(api_client, q="label:alpha", box="0,0,2,2", exists="cloud_cover") == {"A"}
    assert found(api_client, g="POINT(1 1)", box="0,0,2,2", lat=1, lon=1, r=10) == {"A", "B", "C"}
    assert found(api_client, g="POINT(1 1)", box="40,40,60,60") == set()


def test_spatial_search_keeps_the_access_rules(api_client, client_for, make):
    member = UserFactory()
    secret = DatasetFactory()
    AccessRightFactory(group=AccessGroupFactory(members=[member]), dataset=secret)
    restricted = DatasetFactory()
    AccessRightFactory(
        group=AccessGroupFactory(name="public"),
        dataset=restricted,
        metadata_access=AccessRight.MetadataAccess.RESTRICTED_ACCESS,
    )
    make("OPEN", point(1, 1))
    make("SECRET", point(1, 1), dataset=secret)
    make("RESTRICTED", point(1, 1), dataset=restricted)

    assert found(api_client, box="0,0,2,2") == {"OPEN"}
    assert found(client_for(member), box="0,0,2,2") == {"OPEN", "SECRET"}


def test_spatial_search_pages_sorts_and_counts(api_client, make):
    for number in range(7):
        make(f"IN_{number}", point(1 + number / 10, 1), label=f"label {6 - number}")
    # Its box overlaps the query's, its shape does not.
    make("TRIANGLE_MISS", polygon((0, 0.5), (3, 3), (0, 3)), label="label 9")
    for number in range(3):
        make(f"OUT_{number}", point(-1, -1))

    query = {"g": "POLYGON((1 0.9, 2 0.9, 2.5 1.1, 1 1.1, 1 0.9))", "size": 3}
    first = search(api_client, **query, sort="label,ASC")
    last = search(api_client, **query, sort="label,ASC", page=2)

    assert first["metadata"] == {"size": 3, "totalElements": 7, "totalPages": 3, "number": 0}
    assert [e["content"]["providerId"] for e in first["content"]] == ["IN_6", "IN_5", "IN_4"]
    assert [e["content"]["providerId"] for e in last["content"]] == ["IN_0"]
    assert [link["rel"] for link in first["links"]] == ["self", "next"]
    next_link = first["links"][1]["href"]
    assert "g=POLYGON" in next_link and "page=1" in next_link


def test_the_dataset_route_takes_the_parameters_too(api_client, make, open_dataset):
    make("HERE", point(1, 1))
    make("THERE", point(9, 9))

    path = f"{API}/datasets/{open_dataset.urn}/dataobjects/search"
    assert found(api_client, path, box="0,0,2,2") == {"HERE"}
    assert_api_error(api_client.get(path, {"bbox": "0,0,2,2"}), 400, "invalid_request")


def test_products_without_a_geometry_never_match_a_spatial_parameter(api_client, make):
    make("NONE")
    broken = make("BROKEN", point(1, 1))
    broken.geometry = {"type": "Point", "coordinates": "x"}  # as the admin could save it
    broken.save()

    assert found(api_client, box="-180,-90,180,90") == set()
    assert found(api_client, lat=0, lon=0, r=20_000_000) == set()
    assert found(api_client) == {"NONE", "BROKEN"}


def test_a_changed_geometry_moves_the_product(api_client, make):
    product = make("MOVING", point(1, 1))
    product.geometry = point(30, 30)
    product.save(update_fields=["geometry"])

    assert found(api_client, box="0,0,2,2") == set()
    assert found(api_client, box="29,29,31,31") == {"MOVING"}


# Unknown and repeated parameters


@pytest.mark.parametrize("name", ["bbox", "Q", "geometry", "radius", "facet", "pageSize"])
def test_an_unknown_parameter_is_refused_naming_it(api_client, make, name):
    make("ANY")

    body = assert_api_error(api_client.get(SEARCH, {name: "1"}), 400, "invalid_request")

    assert body["parameter"] == name
    assert body["message"].startswith(f"{name}: unknown parameter")


def test_a_token_parameter_is_not_unknown(api_client, token_for, make):
    make("ANY")

    assert found(api_client, token=token_for(UserFactory())) == {"ANY"}


@pytest.mark.parametrize("name", ["g", "box", "lat", "hasImage"])
def test_a_single_valued_parameter_given_twice_is_refused(api_client, name):
    response = api_client.get(f"{SEARCH}?{name}=1&{name}=2")

    assert assert_api_error(response, 400, "invalid_request")["parameter"] == name


# Page size


def test_a_size_above_the_maximum_is_clamped_and_said_so(api_client, make):
    for number in range(3):
        make(f"P{number}")

    page = search(api_client, size=5000)

    assert page["metadata"] == {
        "size": 1000,
        "requestedSize": 5000,
        "totalElements": 3,
        "totalPages": 1,
        "number": 0,
    }
    assert "size=1000" in page["links"][0]["href"]
    assert search(api_client, size=10**30)["metadata"]["requestedSize"] == 10**30
    assert "requestedSize" not in search(api_client, size=1000)["metadata"]


def test_dataset_search_clamps_the_size_too(api_client, open_dataset):
    page = search(api_client, f"{API}/datasets/search", size=1001)

    assert (page["metadata"]["size"], page["metadata"]["requestedSize"]) == (1000, 1001)


# Feature fields


def test_a_product_is_a_feature_with_its_versions(api_client, make):
    base = "URN:FEATURE:DATA:test:12345678-1234-4234-8234-123456789abc"
    make("OLD", point(1, 2), urn=f"{base}:V1")
    make("NEW", polygon((0, 0), (2, 0), (2, 3)), urn=f"{base}:V12")
    make("ALONE", urn="URN:FEATURE:DATA:test:12345678-1234-4234-8234-123456789abd:V3")

    content = {e["content"]["providerId"]: e["content"] for e in search(api_client)["content"]}

    old, new, alone = content["OLD"], content["NEW"], content["ALONE"]
    assert (old["type"], old["version"], old["last"]) == ("Feature", 1, False)
    assert (new["version"], new["last"]) == (12, True)
    assert old["virtualId"] == new["virtualId"] == f"{base}:LAST"
    assert (alone["version"], alone["last"]) == (3, True)
    assert old["bbox"] == [1, 2, 1, 2]
    assert new["bbox"] == [0, 0, 2, 3]
    assert "bbox" not in alone  # RFC 7946 §5: an array when present; no geometry, no box


def test_the_single_product_has_the_feature_fields(api_client, make):
    product = make("ONE", point(1, 2))

    response = api_client.get(f"{API}/dataobjects/{product.urn}")

    assert response.status_code == 200
    body = response.json()
    content = body.get("content", body)  # wrapped in {"content": …} once entities are
    assert content["type"] == "Feature"
    assert content["bbox"] == [1, 2, 1, 2]
    assert content["virtualId"] == product.urn.removesuffix(":V1") + ":LAST"
    assert (content["version"], content["last"]) == (1, True)
    assert content["tags"] == [product.dataset.urn]


def test_files_carry_crc32_and_image_size_when_known(api_client, make):
    product = make("IMAGES")
    DataFileFactory(
        product=product,
        data_type=DataFile.DataType.QUICKLOOK_SD,
        crc32="89abcdef",
        image_width=640,
        image_height=480,
    )
    DataFileFactory(product=product)

    files = search(api_client)["content"][0]["content"]["files"]

    (quicklook,) = files["QUICKLOOK_SD"]
    (raw,) = files["RAWDATA"]
    assert (quicklook["crc32"], quicklook["imageWidth"], quicklook["imageHeight"]) == (
        "89abcdef",
        640,
        480,
    )
    assert not {"crc32", "imageWidth", "imageHeight"} & set(raw)


def test_a_dataset_has_a_provider_id(api_client, open_dataset):
    named = DatasetFactory(label="Named", provider_id="NAMED_DATASET")
    AccessRightFactory(group=AccessGroupFactory(name="public"), dataset=named)

    content = {
        e["content"]["label"]: e["content"]
        for e in search(api_client, f"{API}/datasets/search")["content"]
    }

    assert content["Named"]["providerId"] == "NAMED_DATASET"
    assert content["Open"]["providerId"] == "Open"


def assert_rfc7946_feature(feature):
    """A strict reading of RFC 7946 §3.2 (Feature), §3.1 (Geometry) and §5 (bbox)."""
    assert feature["type"] == "Feature"
    assert "geometry" in feature and "properties" in feature
    assert feature["properties"] is None or isinstance(feature["properties"], dict)
    assert isinstance(feature.get("id", ""), (str, int, float))
    geometry = feature["geometry"]
    if geometry is None:
        assert "bbox" not in feature or feature["bbox"] is None
        return
    assert geometry["type"] in {
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "GeometryCollection",
    }
    parsed = shape(geometry)  # raises on malformed coordinates
    assert not parsed.is_empty
    for x, y, *_ in shapely.get_coordinates(parsed, include_z=True).tolist():
        assert -180 <= x <= 180 and -90 <= y <= 90
        assert math.isfinite(x) and math.isfinite(y)
    bbox = feature["bbox"]
    assert isinstance(bbox, list) and len(bbox) == 4
    assert all(isinstance(value, (int, float)) for value in bbox)
    west, south, east, north = bbox
    assert south <= north
    assert list(parsed.bounds) == pytest.approx(bbox)


def test_every_result_is_a_valid_rfc7946_feature(api_client, make):
    make("POINT", point(1, 2))
    make("POLYGON", polygon((0, 0), (2, 0), (2, 3)))
    make("LINE", {"type": "LineString", "coordinates": [[0, 0], [1, 1]]})
    make("MULTI", {"type": "MultiPoint", "coordinates": [[0, 0], [1, 1]]})
    make(
        "COLLECTION",
        {"type": "GeometryCollection", "geometries": [point(5, 5), point(6, 7)]},
    )
    make("NONE")

    contents = [entry["content"] for entry in search(api_client)["content"]]

    assert len(contents) == 6
    for feature in contents:
        assert_rfc7946_feature(feature)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"g": "POINT(1e308 -1e308)"}, 200),
        ({"g": "POINT(1e999 0)"}, 400),
        ({"g": "POINT(1 2)\x00"}, 400),
        ({"g": "POLYGON((0 0, 1 0, 0 1, 1 1, 0 0))"}, 200),  # self-crossing, still a shape
        ({"box": "-180,-90,180,90"}, 200),
        ({"box": "1e308,0,1e308,0"}, 400),
        ({"exists": "cloud\x00cover"}, 400),
        ({"lat": "1e308", "lon": 0, "r": 1}, 400),
        ({"lat": 0, "lon": 0, "r": "1e308"}, 400),
        ({"hasImage": "\x00"}, 400),
    ],
)
def test_hostile_values_get_an_answer_never_a_500(api_client, make, params, status):
    make("ANY", polygon((0, 0), (1, 0), (1, 1)))

    response = api_client.get(SEARCH, params)

    assert response.status_code == status, response.content
