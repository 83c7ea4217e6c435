import copy
import datetime
import random

import pytest
from django.core.management import call_command
from django.db import connection

from products.cql2 import FilterError, apply_filter
from products.models import Product
from tests.factories import DatasetFactory, ProductFactory

UTC = datetime.UTC
OPTICAL = "URN:AIP:DATASET:test:00000000-0000-0000-0000-0000000000aa:V1"
RADAR = "URN:AIP:DATASET:test:00000000-0000-0000-0000-0000000000bb:V1"
# B's triangle: its box is 2..4 × 0..2, its shape the half below the line x + y = 4.
TRIANGLE = {"type": "Polygon", "coordinates": [[[2, 0], [4, 0], [2, 2], [2, 0]]]}
CORNER_WKT = "POLYGON((3.5 1.5, 4 1.5, 4 2, 3.5 2, 3.5 1.5))"  # in B's box, off its shape
CORNER = {
    "type": "Polygon",
    "coordinates": [[[3.5, 1.5], [4, 1.5], [4, 2], [3.5, 2], [3.5, 1.5]]],
}
STRIP_WKT = "POLYGON((0.5 0.5, 3 0.5, 3 0.6, 0.5 0.6, 0.5 0.5))"  # crosses A and B


def urn(letter):
    return f"URN:FEATURE:DATA:test:00000000-0000-0000-0000-00000000000{letter}:V1"


def moment(text):
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def catalog(db):
    """Five products A–E whose properties, dates and geometries each exercise a construct."""
    optical = DatasetFactory(urn=OPTICAL)
    radar = DatasetFactory(urn=RADAR)
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    rows = [
        ("A", optical, square, "2022-06-13T10:00:00", "2022-06-13T10:10:00",
         {"cloud": 12.5, "orbit": 42, "platform": "S2A", "processed": True, "note": "50%_off",
          "acquired": "2022-06-13T10:00:00Z"}),
        ("B", optical, TRIANGLE, "2022-06-14T08:30:00", None,
         {"cloud": 80, "orbit": 7, "platform": "S2B", "processed": False, "note": "50 or more",
          "acquired": "2022-06-14"}),
        ("C", radar, {"type": "Point", "coordinates": [10, 10]}, "2021-12-31T23:59:59", None,
         {"cloud": "n/a", "orbit": -3, "platform": "s1a"}),
        ("D", radar, None, None, None, {"platform": "L8", "nothing": None}),
        ("E", optical, {"type": "Point", "coordinates": [20, 20]}, "2022-06-13T00:00:00", None,
         {"cloud": 0, "platform": "S2A_X", "owner": "O'Brien", "q": 1,
          "eo:cloud_cover": 4}),
    ]  # fmt: skip
    for letter, dataset, geometry, start, end, properties in rows:
        ProductFactory(
            provider_id=letter,
            urn=urn(letter),
            dataset=dataset,
            geometry=geometry,
            start_date=moment(start) if start else None,
            end_date=moment(end) if end else None,
            properties=properties,
        )


def found(expression, lang="cql2-text", queryset=None):
    queryset = Product.objects.all() if queryset is None else queryset
    return {p.provider_id for p in apply_filter(queryset, expression, lang)}


def prop(name):
    return {"property": name}


def casei(value):
    return {"op": "casei", "args": [value]}


# (cql2-text, cql2-json, the products found): both forms must find the same.
CASES = [
    # comparisons on numbers, strings and booleans; a value of another type never matches
    ("cloud = 80", {"op": "=", "args": [prop("cloud"), 80]}, "B"),
    ("properties.cloud <> 80", {"op": "<>", "args": [prop("properties.cloud"), 80]}, "AE"),
    ("cloud < 50", {"op": "<", "args": [prop("cloud"), 50]}, "AE"),
    ("cloud <= 12.5", {"op": "<=", "args": [prop("cloud"), 12.5]}, "AE"),
    ("cloud > 12.5", {"op": ">", "args": [prop("cloud"), 12.5]}, "B"),
    ("cloud >= 12.5", {"op": ">=", "args": [prop("cloud"), 12.5]}, "AB"),
    ("50 > cloud", {"op": ">", "args": [50, prop("cloud")]}, "AE"),
    ("orbit = -3", {"op": "=", "args": [prop("orbit"), -3]}, "C"),
    ("platform = 'S2A'", {"op": "=", "args": [prop("platform"), "S2A"]}, "A"),
    ("platform = 's2a'", {"op": "=", "args": [prop("platform"), "s2a"]}, ""),
    ("platform > 'S2A'", {"op": ">", "args": [prop("platform"), "S2A"]}, "BCE"),
    ("cloud = 'n/a'", {"op": "=", "args": [prop("cloud"), "n/a"]}, "C"),
    ("processed = true", {"op": "=", "args": [prop("processed"), True]}, "A"),
    ("processed <> true", {"op": "<>", "args": [prop("processed"), True]}, "B"),
    # id is the product URN, collection the dataset URN
    (f"id = '{urn('C')}'", {"op": "=", "args": [prop("id"), urn("C")]}, "C"),
    (f"id <> '{urn('C')}'", {"op": "<>", "args": [prop("id"), urn("C")]}, "ABDE"),
    (f"collection = '{RADAR}'", {"op": "=", "args": [prop("collection"), RADAR]}, "CD"),
    # logic: AND binds tighter than OR; NOT of an unknown comparison stays unknown
    (
        "cloud < 50 AND platform = 'S2A'",
        {"op": "and", "args": [{"op": "<", "args": [prop("cloud"), 50]},
                               {"op": "=", "args": [prop("platform"), "S2A"]}]},
        "A",
    ),
    (
        "platform = 'L8' OR cloud > 50 AND orbit = 42",
        {"op": "or", "args": [{"op": "=", "args": [prop("platform"), "L8"]},
                              {"op": "and", "args": [{"op": ">", "args": [prop("cloud"), 50]},
                                                     {"op": "=", "args": [prop("orbit"), 42]}]}]},
        "D",
    ),
    (
        "(platform = 'L8' OR cloud > 50) AND collection = '" + OPTICAL + "'",
        {"op": "and", "args": [{"op": "or", "args": [{"op": "=", "args": [prop("platform"), "L8"]},
                                                     {"op": ">", "args": [prop("cloud"), 50]}]},
                               {"op": "=", "args": [prop("collection"), OPTICAL]}]},
        "B",
    ),
    ("NOT orbit = 7", {"op": "not", "args": [{"op": "=", "args": [prop("orbit"), 7]}]}, "AC"),
    ("NOT (cloud < 50)", {"op": "not", "args": [{"op": "<", "args": [prop("cloud"), 50]}]}, "B"),
    (
        "NOT (cloud < 50 OR orbit = 7)",
        {"op": "not", "args": [{"op": "or", "args": [{"op": "<", "args": [prop("cloud"), 50]},
                                                     {"op": "=", "args": [prop("orbit"), 7]}]}]},
        "",
    ),
    (
        "NOT (NOT (orbit = 7))",
        {"op": "not", "args": [{"op": "not", "args": [{"op": "=", "args": [prop("orbit"), 7]}]}]},
        "B",
    ),
    (
        "orbit IS NULL OR NOT orbit = 7",
        {"op": "or", "args": [{"op": "isNull", "args": [prop("orbit")]},
                              {"op": "not", "args": [{"op": "=", "args": [prop("orbit"), 7]}]}]},
        "ACDE",
    ),
    # IN, BETWEEN
    ("platform IN ('S2A', 'L8')", {"op": "in", "args": [prop("platform"), ["S2A", "L8"]]}, "AD"),
    (
        "orbit NOT IN (7, 42)",
        {"op": "not", "args": [{"op": "in", "args": [prop("orbit"), [7, 42]]}]},
        "C",
    ),
    (f"id IN ('{urn('A')}', '{urn('E')}')", {"op": "in", "args": [prop("id"), [urn("A"), urn("E")]]}, "AE"),  # noqa: E501
    ("cloud BETWEEN 0 AND 12.5", {"op": "between", "args": [prop("cloud"), 0, 12.5]}, "AE"),
    (
        "cloud NOT BETWEEN 0 AND 12.5",
        {"op": "not", "args": [{"op": "between", "args": [prop("cloud"), 0, 12.5]}]},
        "B",
    ),
    # LIKE: % any text, _ one character, \ escapes; case-sensitive
    ("platform LIKE 'S2%'", {"op": "like", "args": [prop("platform"), "S2%"]}, "ABE"),
    ("platform LIKE 'S2_'", {"op": "like", "args": [prop("platform"), "S2_"]}, "AB"),
    ("platform LIKE 's2%'", {"op": "like", "args": [prop("platform"), "s2%"]}, ""),
    ("note LIKE '50%'", {"op": "like", "args": [prop("note"), "50%"]}, "AB"),
    ("note LIKE '50\\%\\_off'", {"op": "like", "args": [prop("note"), "50\\%\\_off"]}, "A"),
    ("note LIKE '50\\%%'", {"op": "like", "args": [prop("note"), "50\\%%"]}, "A"),
    (
        "platform NOT LIKE 'S2%'",
        {"op": "not", "args": [{"op": "like", "args": [prop("platform"), "S2%"]}]},
        "CD",
    ),
    ("cloud LIKE '%'", {"op": "like", "args": [prop("cloud"), "%"]}, "C"),
    ("id LIKE '%000000000D:V1'", {"op": "like", "args": [prop("id"), "%000000000D:V1"]}, "D"),
    ("id LIKE '%000000000d:V1'", {"op": "like", "args": [prop("id"), "%000000000d:V1"]}, ""),
    # CASEI: =, <>, IN and LIKE ignoring case
    ("CASEI(platform) = CASEI('s2a')", {"op": "=", "args": [casei(prop("platform")), casei("s2a")]}, "A"),  # noqa: E501
    ("CASEI(platform) <> CASEI('s2a')", {"op": "<>", "args": [casei(prop("platform")), casei("s2a")]}, "BCDE"),  # noqa: E501
    ("CASEI(platform) IN (CASEI('s1A'), CASEI('l8'))", {"op": "in", "args": [casei(prop("platform")), [casei("s1A"), casei("l8")]]}, "CD"),  # noqa: E501
    ("CASEI(platform) LIKE CASEI('s2_')", {"op": "like", "args": [casei(prop("platform")), casei("s2_")]}, "AB"),  # noqa: E501
    ("CASEI(platform) LIKE CASEI('s%')", {"op": "like", "args": [casei(prop("platform")), casei("s%")]}, "ABCE"),  # noqa: E501
    (f"CASEI(collection) = CASEI('{RADAR.lower()}')", {"op": "=", "args": [casei(prop("collection")), casei(RADAR.lower())]}, "CD"),  # noqa: E501
    ("CASEI(id) LIKE CASEI('%0d:v1')", {"op": "like", "args": [casei(prop("id")), casei("%0d:v1")]}, "D"),  # noqa: E501
    # IS NULL: missing and JSON null alike
    ("orbit IS NULL", {"op": "isNull", "args": [prop("orbit")]}, "DE"),
    ("nothing IS NULL", {"op": "isNull", "args": [prop("nothing")]}, "ABCDE"),
    ("cloud IS NOT NULL", {"op": "not", "args": [{"op": "isNull", "args": [prop("cloud")]}]}, "ABCE"),  # noqa: E501
    ("datetime IS NULL", {"op": "isNull", "args": [prop("datetime")]}, "D"),
    ("end_datetime IS NOT NULL", {"op": "not", "args": [{"op": "isNull", "args": [prop("end_datetime")]}]}, "A"),  # noqa: E501
    # datetime is the start; a DATE means the whole day (UTC)
    (
        "datetime > TIMESTAMP('2022-06-13T09:00:00Z')",
        {"op": ">", "args": [prop("datetime"), {"timestamp": "2022-06-13T09:00:00Z"}]},
        "AB",
    ),
    (
        "datetime = TIMESTAMP('2022-06-13T12:00:00+02:00')",
        {"op": "=", "args": [prop("datetime"), {"timestamp": "2022-06-13T12:00:00+02:00"}]},
        "A",
    ),
    ("datetime = DATE('2022-06-13')", {"op": "=", "args": [prop("datetime"), {"date": "2022-06-13"}]}, "AE"),  # noqa: E501
    ("datetime <= DATE('2022-06-13')", {"op": "<=", "args": [prop("datetime"), {"date": "2022-06-13"}]}, "ACE"),  # noqa: E501
    ("datetime > DATE('2022-06-13')", {"op": ">", "args": [prop("datetime"), {"date": "2022-06-13"}]}, "B"),  # noqa: E501
    (
        "datetime BETWEEN TIMESTAMP('2022-06-13T00:00:00Z') AND TIMESTAMP('2022-06-13T10:00:00Z')",
        {"op": "between", "args": [prop("datetime"), {"timestamp": "2022-06-13T00:00:00Z"},
                                   {"timestamp": "2022-06-13T10:00:00Z"}]},
        "AE",
    ),
    (
        "NOT datetime < DATE('2022-06-14')",
        {"op": "not", "args": [{"op": "<", "args": [prop("datetime"), {"date": "2022-06-14"}]}]},
        "B",
    ),
    ("datetime < '2022-01-01T00:00:00Z'", {"op": "<", "args": [prop("datetime"), "2022-01-01T00:00:00Z"]}, "C"),  # noqa: E501
    # T_INTERSECTS: the product's period (start to end) meets the instant, day or interval
    (
        "T_INTERSECTS(datetime, INTERVAL('2022-06-13T10:05:00Z', '2022-06-13T12:00:00Z'))",
        {"op": "t_intersects", "args": [
            prop("datetime"), {"interval": ["2022-06-13T10:05:00Z", "2022-06-13T12:00:00Z"]}]},
        "A",
    ),
    (
        "T_INTERSECTS(datetime, INTERVAL('2022-06-13', '..'))",
        {"op": "t_intersects", "args": [prop("datetime"), {"interval": ["2022-06-13", ".."]}]},
        "ABE",
    ),
    (
        "T_INTERSECTS(datetime, INTERVAL('..', '2022-06-13'))",
        {"op": "t_intersects", "args": [prop("datetime"), {"interval": ["..", "2022-06-13"]}]},
        "ACE",
    ),
    (
        "T_INTERSECTS(datetime, DATE('2022-06-14'))",
        {"op": "t_intersects", "args": [prop("datetime"), {"date": "2022-06-14"}]},
        "B",
    ),
    (
        "T_INTERSECTS(datetime, TIMESTAMP('2022-06-13T10:10:00Z'))",
        {"op": "t_intersects", "args": [prop("datetime"), {"timestamp": "2022-06-13T10:10:00Z"}]},
        "A",
    ),
    (
        "NOT T_INTERSECTS(datetime, DATE('2022-06-13'))",
        {"op": "not", "args": [
            {"op": "t_intersects", "args": [prop("datetime"), {"date": "2022-06-13"}]}]},
        "BC",
    ),
    # a property holding ISO text compares with dates and timestamps
    (
        "acquired > TIMESTAMP('2022-06-13T12:00:00Z')",
        {"op": ">", "args": [prop("acquired"), {"timestamp": "2022-06-13T12:00:00Z"}]},
        "B",
    ),
    (
        "acquired = DATE('2022-06-13')",
        {"op": "=", "args": [prop("acquired"), {"date": "2022-06-13"}]},
        "A",
    ),
    (
        "acquired <= DATE('2022-06-13')",
        {"op": "<=", "args": [prop("acquired"), {"date": "2022-06-13"}]},
        "A",
    ),
    # S_INTERSECTS is exact, and stays so under OR and NOT
    (f"S_INTERSECTS(geometry, {STRIP_WKT})", {"op": "s_intersects", "args": [prop("geometry"), {"type": "Polygon", "coordinates": [[[0.5, 0.5], [3, 0.5], [3, 0.6], [0.5, 0.6], [0.5, 0.5]]]}]}, "AB"),  # noqa: E501
    (f"S_INTERSECTS(geometry, {CORNER_WKT})", {"op": "s_intersects", "args": [prop("geometry"), CORNER]}, ""),  # noqa: E501
    ("S_INTERSECTS(geometry, BBOX(3.5, 1.5, 4, 2))", {"op": "s_intersects", "args": [prop("geometry"), {"bbox": [3.5, 1.5, 4, 2]}]}, ""),  # noqa: E501
    ("S_INTERSECTS(geometry, BBOX(9, 9, 21, 21))", {"op": "s_intersects", "args": [prop("geometry"), {"bbox": [9, 9, 21, 21]}]}, "CE"),  # noqa: E501
    (
        f"S_INTERSECTS(geometry, {CORNER_WKT}) OR platform = 's1a'",
        {"op": "or", "args": [{"op": "s_intersects", "args": [prop("geometry"), CORNER]},
                              {"op": "=", "args": [prop("platform"), "s1a"]}]},
        "C",
    ),
    (
        "NOT S_INTERSECTS(geometry, POINT(0.5 0.5))",
        {"op": "not", "args": [{"op": "s_intersects", "args": [prop("geometry"), {"type": "Point", "coordinates": [0.5, 0.5]}]}]},  # noqa: E501
        "BCE",
    ),
    ("INCLUDE", None, "ABCDE"),
    ("INCLUDE OR platform = 'L8'", None, "ABCDE"),
    ("EXCLUDE OR platform = 'L8'", None, "D"),
    ("NOT INCLUDE", None, ""),
    ("NOT EXCLUDE AND platform = 'L8'", None, "D"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "json_filter", "expected"), CASES)
def test_text_and_json_find_the_same_products(catalog, text, json_filter, expected):
    assert found(text) == set(expected)
    if json_filter is not None:
        assert found(json_filter, "cql2-json") == set(expected)


def test_json_may_come_as_a_string(catalog):
    assert found('{"op": "=", "args": [{"property": "orbit"}, 42]}', "cql2-json") == {"A"}


def test_a_doubled_quote_is_a_quote_in_text(catalog):
    assert found("owner = 'O''Brien' AND platform <> ''") == {"E"}
    assert found("owner LIKE '%''%'") == {"E"}


def test_a_property_name_may_be_one_letter(catalog):
    assert found("q = 1") == {"E"}


def test_a_property_name_may_carry_a_stac_extension_prefix(catalog):
    assert found("eo:cloud_cover <= 10") == {"E"}
    assert found("properties.eo:cloud_cover IS NULL") == {"A", "B", "C", "D"}
    assert found({"op": "<=", "args": [prop("eo:cloud_cover"), 10]}, "cql2-json") == {"E"}


def test_the_stac_api_validator_filters_are_understood(catalog):
    """The two filters stac-api-validator sends, in text and JSON (the JSON one wrapped in
    the search body's filter-lang and filter, as it is)."""
    strip = "POLYGON((0 0, 25 0, 25 25, 0 25, 0 0))"
    text = (
        f"collection = '{OPTICAL}' AND eo:cloud_cover <= 10"
        f" AND datetime >= TIMESTAMP('2022-06-13T00:00:00Z') AND S_INTERSECTS(geometry, {strip})"
    )
    assert found(text) == {"E"}
    assert found(f"id='{urn('A')}' AND collection='{OPTICAL}'") == {"A"}
    body = {
        "filter-lang": "cql2-json",
        "filter": {"op": "and", "args": [
            {"op": "=", "args": [prop("collection"), OPTICAL]},
            {"op": "<=", "args": [prop("eo:cloud_cover"), 10]},
            {"op": ">=", "args": [prop("datetime"), {"timestamp": "2022-06-13T00:00:00Z"}]},
        ]},
    }  # fmt: skip
    assert found(body, "cql2-json") == {"E"}


def test_between_in_the_draft_json_form_is_read_too(catalog):
    """stac-api-validator sends [value, [low, high]], the form of CQL2's drafts."""
    draft = {"op": "between", "args": [prop("cloud"), [0, 12.5]]}

    assert found(draft, "cql2-json") == {"A", "E"}
    assert found({"op": "not", "args": [draft]}, "cql2-json") == {"B"}


def test_keywords_are_case_insensitive(catalog):
    assert found("cloud < 50 and not platform like 'S2A%' or orbit in (7)") == {"B"}


def test_spatial_test_runs_over_the_given_queryset_only(catalog):
    queryset = Product.objects.exclude(provider_id="A")
    assert found(f"S_INTERSECTS(geometry, {STRIP_WKT})", queryset=queryset) == {"B"}
    assert found(f"NOT S_INTERSECTS(geometry, {STRIP_WKT})", queryset=queryset) == {"C", "E"}


def test_the_queryset_returned_is_narrowed_not_replaced(catalog):
    queryset = Product.objects.filter(dataset__urn=OPTICAL)
    assert found("cloud >= 0", queryset=queryset) == {"A", "B", "E"}
    assert found("platform = 'L8'", queryset=queryset) == set()


ERRORS = [
    ("cloud = ", "cql2-text", "Malformed cql2-text filter"),
    ("cloud === 3", "cql2-text", "Malformed"),
    ("cloud = 'unterminated", "cql2-text", "Malformed"),
    ("cloud = 1", "ecql", "Unknown filter-lang"),
    ({"op": "=", "args": [prop("cloud"), 1]}, "cql2-text", "cql2-text filter is a string"),
    ("{not json", "cql2-json", "not valid JSON"),
    ([1, 2], "cql2-json", "is a JSON object"),
    ({"op": "bogus", "args": []}, "cql2-json", "Malformed cql2-json filter"),
    ({"op": "=", "args": [prop("cloud")]}, "cql2-json", "Malformed"),
    ({"op": "between", "args": [prop("cloud"), 1]}, "cql2-json", "lower and an upper bound"),
    ({"op": "in", "args": [prop("cloud"), 1]}, "cql2-json", "IN takes a list"),
    ("CASEI(datetime) = CASEI('x')", "cql2-text", "CASEI applies to text"),
    ("CASEI(platform) < CASEI('x')", "cql2-text", "CASEI compares with =, <>, IN and LIKE"),
    ("CASEI(platform) = 5", "cql2-text", "CASEI compares with a string"),
    ("platform = CASEI('x')", "cql2-text", "cannot be compared"),
    ("ACCENTI(platform) = ACCENTI('x')", "cql2-text", "function ACCENTI is not supported"),
    ("cloud + 1 > 3", "cql2-text", "Arithmetic"),
    ("3 < cloud * 2", "cql2-text", "Arithmetic"),
    ("1 = 1", "cql2-text", "needs a property on one side"),
    ("cloud = orbit", "cql2-text", "cannot be compared"),
    ('"bad name" = 1', "cql2-text", "Unknown property bad name"),
    ("properties.a:b:c = 1", "cql2-text", "Unknown property properties.a:b:c"),
    ("a.b = 1", "cql2-text", "Unknown property a.b"),
    ("geometry = 1", "cql2-text", "only be searched with S_INTERSECTS"),
    ("datetime > 5", "cql2-text", "TIMESTAMP"),
    ("datetime > 'yesterday'", "cql2-text", "TIMESTAMP"),
    ("id = 5", "cql2-text", "compared with a string"),
    ("processed < true", "cql2-text", "only be compared with = and <>"),
    ("platform LIKE 5", "cql2-text", "LIKE takes a string"),
    ("datetime LIKE '2022%'", "cql2-text", "LIKE does not apply"),
    ("platform LIKE '%a%b%c%d%e%f%'", "cql2-text", "at most 5 %"),
    ("cloud = 99999999999999999999", "cql2-text", "64-bit integer"),
    ("S_WITHIN(geometry, POINT(1 1))", "cql2-text", "only spatial operator"),
    ("S_INTERSECTS(geometry, 5)", "cql2-text", "needs a geometry"),
    ("S_INTERSECTS(cloud, POINT(1 1))", "cql2-text", "compares the geometry property"),
    ("S_INTERSECTS(geometry, BBOX(0, 0, 1))", "cql2-text", "four numbers"),
    ("S_INTERSECTS(geometry, BBOX(0, 95, 1, 96))", "cql2-text", "Invalid bbox"),
    ({"op": "s_intersects", "args": [prop("geometry"), {"type": "Polygon", "coordinates": [[1]]}]},
     "cql2-json", "not a GeoJSON geometry"),
    ({"op": "s_intersects", "args": [prop("geometry"), {"type": 5, "coordinates": [1, 2]}]},
     "cql2-json", "not a GeoJSON geometry"),
    ("T_OVERLAPS(datetime, DATE('2022-06-13'))", "cql2-text", "only temporal operator"),
    ({"op": "t_overlaps", "args": [prop("datetime"), {"date": "2022-06-13"}]},
     "cql2-json", "only temporal operator"),
    ({"op": "t_before", "args": [prop("datetime"), {"date": "2022-06-13"}]},
     "cql2-json", "only temporal operator"),
    ("T_INTERSECTS(cloud, DATE('2022-06-13'))", "cql2-text", "applies to datetime"),
    ("T_INTERSECTS(end_datetime, DATE('2022-06-13'))", "cql2-text", "applies to datetime"),
    ({"op": "t_intersects", "args": [prop("datetime"), {"interval": ["P1D", ".."]}]},
     "cql2-json", "Durations"),
    ("T_INTERSECTS(datetime, INTERVAL('soon', '..'))", "cql2-text", "Malformed"),
    ("cloud = 1 AND " * 2000 + "cloud = 1", "cql2-text", "longer than"),
    ("platform = 'a\x00b'", "cql2-text", "NUL"),
    ({"op": "=", "args": [prop("platform"), "a\x00b"]}, "cql2-json", "NUL"),
    ({"op": "=", "args": [{"property": 5}, 1]}, "cql2-json", "property name is a string"),
    ("datetime > TIMESTAMP('0001-01-01T00:00:00+01:00')", "cql2-text", "out of range"),
    ("orbit IN (" + ", ".join(map(str, range(101))) + ")", "cql2-text", "more than 100 comparisons"),  # noqa: E501
]  # fmt: skip


@pytest.mark.parametrize(("expression", "lang", "message"), ERRORS)
def test_invalid_filters_raise_filter_error(catalog, expression, lang, message):
    with pytest.raises(FilterError, match=message.replace("(", r"\(").replace("+", r"\+")):
        found(expression, lang)


def test_a_long_chain_of_or_is_not_deep_nesting(catalog):
    chain = " OR ".join(f"orbit = {n}" for n in range(100))
    assert found(chain) == {"A", "B"}
    assert found(f"NOT ({chain})") == {"C"}
    assert found("orbit IN (" + ", ".join(map(str, range(-60, 40))) + ")") == {"B", "C"}


def test_a_filter_nested_too_deep_is_refused(catalog):
    node = {"op": "=", "args": [prop("orbit"), 7]}
    for _ in range(60):
        node = {"op": "not", "args": [node]}
    with pytest.raises(FilterError, match="nested more than 50 levels"):
        found(node, "cql2-json")


INDEXED_FILTERS = [
    "platform = 'S2A'",
    "platform = 12",
    "NOT platform = 'S2A'",
    "platform IN ('S2A', 'S2B')",
    "platform <> 'S2A' AND cloud < 10",
]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="property indexes are PostgreSQL's")
@pytest.mark.django_db(transaction=True)  # CREATE INDEX CONCURRENTLY refuses transactions
def test_an_indexed_property_finds_the_same_products_through_its_index():
    for provider_id, properties in {
        "s2a": {"platform": "S2A", "cloud": 3},
        "s2b": {"platform": "S2B", "cloud": 3},
        "number-12": {"platform": 12},
        "list": {"platform": ["S2A"]},
        "none": {},
    }.items():
        ProductFactory(provider_id=provider_id, properties=properties)
    by_gin = {text: found(text) for text in INDEXED_FILTERS}

    call_command("index_property", "platform")
    try:
        assert {text: found(text) for text in INDEXED_FILTERS} == by_gin
        assert by_gin["NOT platform = 'S2A'"] == {"s2b"}  # a number or a list: unknown
        query = apply_filter(Product.objects.order_by(), "platform = 'S2A'")
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = off")
            plan = query.explain()
            cursor.execute("RESET enable_seqscan")
        assert "products_product_prop_platform" in plan
    finally:
        call_command("index_property", "platform", "--drop")


TOKENS = [
    "cloud", "id", "datetime", "geometry", "properties.x", "'a'", "''", "1", "-1.5", "true",
    "TIMESTAMP('2020-01-01T00:00:00Z')", "DATE('2020-02-30')", "POINT(1 2)", "(", ")", ",",
    "AND", "OR", "NOT", "=", "<>", "<", "LIKE", "IN", "BETWEEN", "IS", "NULL", "S_INTERSECTS",
    "BBOX", "CASEI", "'%_\\'", "1e999", "99999999999999999999", '"x y"', "+", "*",
]  # fmt: skip
ODD_VALUES = [
    None, 1, "x", [], {}, [1, 2], {"property": 3}, {"timestamp": "bad"}, {"bbox": [1, 2]},
    {"date": "2020-13-01"}, {"interval": ["..", ".."]}, {"op": "not", "args": []},
]  # fmt: skip


def test_any_input_is_a_result_or_a_filter_error(catalog):
    """Random token strings and damaged JSON filters (a fixed seed): nothing but FilterError
    escapes, the query included."""
    rng = random.Random(12)
    json_filters = [json_filter for _, json_filter, _ in CASES if json_filter is not None]
    results = 0
    for _ in range(300):
        text = " ".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 8)))
        damaged = copy.deepcopy(rng.choice(json_filters))
        node = damaged
        while isinstance(node.get("args"), list) and node["args"] and rng.random() < 0.6:
            child = rng.choice(node["args"])
            if not isinstance(child, dict):
                break
            node = child
        node[rng.choice([*node, "extra"])] = rng.choice(ODD_VALUES)
        for expression, lang in ((text, "cql2-text"), (damaged, "cql2-json")):
            try:
                list(apply_filter(Product.objects.all(), expression, lang))
                results += 1
            except FilterError:
                pass
    assert results > 0  # some inputs were valid filters, run to the end
