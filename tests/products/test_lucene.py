import pytest
from django.db.models import Exists, OuterRef, Q

from products.exceptions import InvalidQuery
from products.lucene import lucene_to_q
from products.models import Dataset, Product
from tests.factories import DataFileFactory, DatasetFactory, ProductFactory

ALL = {"S2A_TILE_001", "S2B_TILE_002", "S1A_SAR_003", "LANDSAT_004", "SPOT_005"}


@pytest.fixture
def catalog(db):
    """Five products whose labels, tags, properties and files each exercise a construct."""
    optical = DatasetFactory(label="Optical")
    other = DatasetFactory(label="Other")
    s2a = ProductFactory(
        provider_id="S2A_TILE_001",
        label="Sentinel-2 tile over Toulouse",
        dataset=optical,
        tags=["optical", "sentinel-2"],
        properties={
            "cloud_cover": 12.5,
            "orbit": 42,
            "start": "2022-06-13T10:00:00Z",
            "platform": "S2A",
            "processed": True,
        },
    )
    s2b = ProductFactory(
        provider_id="S2B_TILE_002",
        label="Sentinel-2 tile over Paris",
        dataset=optical,
        tags=["optical", "sentinel-2", "cloudy"],
        properties={
            "cloud_cover": 80,
            "orbit": 7,
            "start": "2022-06-14T08:30:00Z",
            "platform": "S2B",
            "processed": False,
        },
    )
    s1a = ProductFactory(
        provider_id="S1A_SAR_003",
        label="Sentinel-1 radar swath",
        dataset=optical,
        tags=["radar"],
        properties={
            "cloud_cover": "n/a",
            "orbit": -3,
            "start": "2021-12-31T23:59:59Z",
            "platform": "S1A",
        },
    )
    ProductFactory(
        provider_id="LANDSAT_004",
        label="Landsat scene (archive)",
        dataset=optical,
        tags=["optical", "50%_off"],
        properties={"cloud_cover": 0, "start": "2022-06-13", "platform": "L8", "note": "a:b"},
    )
    ProductFactory(provider_id="SPOT_005", label='Spot "special" product', dataset=other, tags=[])
    DataFileFactory(product=s2a, data_type="RAWDATA", filename="S2A_001.zip")
    DataFileFactory(product=s2a, data_type="QUICKLOOK_SD", filename="S2A_001_ql.png")
    DataFileFactory(product=s2b, data_type="RAWDATA", filename="S2B_002.zip")
    DataFileFactory(product=s1a, data_type="DOCUMENT", filename="manual.pdf")
    return {"s2a": s2a, "optical": optical, "other": other}


def search(q):
    return set(Product.objects.filter(lucene_to_q(q)).values_list("provider_id", flat=True))


def invalid(q):
    with pytest.raises(InvalidQuery) as raised:
        search(q)
    return raised.value


@pytest.mark.parametrize("q", ["", "   ", None])
def test_blank_query_matches_everything(catalog, q):
    assert lucene_to_q(q) == Q()
    assert search(q) == ALL


@pytest.mark.parametrize(
    "q, expected",
    [
        ("toulouse", {"S2A_TILE_001"}),
        ("s2b_tile", {"S2B_TILE_002"}),
        ("sentinel", {"S2A_TILE_001", "S2B_TILE_002", "S1A_SAR_003"}),
        ('"tile over"', {"S2A_TILE_001", "S2B_TILE_002"}),
        ('"over tile"', set()),
        ("sent*l-1", {"S1A_SAR_003"}),
        ("S?B", {"S2B_TILE_002"}),
        ("*", ALL),
    ],
)
def test_bare_words_search_label_and_provider_id_case_insensitively(catalog, q, expected):
    assert search(q) == expected


def test_implicit_operator_between_bare_words_is_and(catalog):
    assert search("sentinel toulouse") == {"S2A_TILE_001"}
    assert search("toulouse paris") == set()


@pytest.mark.parametrize(
    "q, expected",
    [
        ("providerId:S2A_TILE_001", {"S2A_TILE_001"}),
        ("providerId:S2A", set()),
        ("providerId:s2a_tile_001", set()),
        ('label:"sentinel-2 tile over paris"', {"S2B_TILE_002"}),
        ("label:sentinel", set()),
        (r"label:Landsat\ scene\ \(archive\)", {"LANDSAT_004"}),
        ('label:"Spot \\"special\\" product"', {"SPOT_005"}),
        ('label:"Sentinel*"', set()),
    ],
)
def test_field_term_is_an_exact_match(catalog, q, expected):
    assert search(q) == expected


def test_id_and_dataset_match_urns_quoted_or_escaped(catalog):
    urn = catalog["s2a"].urn
    assert search(f'id:"{urn}"') == {"S2A_TILE_001"}
    assert search("id:" + urn.replace(":", r"\:")) == {"S2A_TILE_001"}
    assert search(f'dataset:"{catalog["other"].urn}"') == {"SPOT_005"}


@pytest.mark.parametrize(
    "q, expected",
    [
        ("providerId:S2*", {"S2A_TILE_001", "S2B_TILE_002"}),
        ("providerId:*_003", {"S1A_SAR_003"}),
        ("providerId:*TILE*", {"S2A_TILE_001", "S2B_TILE_002"}),
        ("providerId:S?A_*", {"S2A_TILE_001", "S1A_SAR_003"}),
        ("providerId:S2?_TILE_00?", {"S2A_TILE_001", "S2B_TILE_002"}),
        ("providerId:S*_0*4", set()),
        ("providerId:L*_0*4", {"LANDSAT_004"}),
        (r"label:*\(archive\)", {"LANDSAT_004"}),
        (r"label:Landsat?scene*\(archive\)", {"LANDSAT_004"}),
        ("providerId:LANDSAT.00?", set()),
        ("label:landsat*", {"LANDSAT_004"}),
        ("providerId:*", ALL),
    ],
)
def test_wildcards_in_field_terms(catalog, q, expected):
    assert search(q) == expected


@pytest.mark.parametrize(
    "q, expected",
    [
        ("tags:optical", {"S2A_TILE_001", "S2B_TILE_002", "LANDSAT_004"}),
        ("tags:Optical", set()),
        ("tags:optic", set()),
        ("tags:sentinel*", {"S2A_TILE_001", "S2B_TILE_002"}),
        ("tags:*dar", {"S1A_SAR_003"}),
        ("tags:r?dar", {"S1A_SAR_003"}),
        ("tags:50%_off", {"LANDSAT_004"}),
        ("tags:50%*", {"LANDSAT_004"}),
        ("tags:5%*", set()),
        ("tags:50_*", set()),
        # Every product is tagged with its dataset's URN.
        ("tags:*", {"S2A_TILE_001", "S2B_TILE_002", "S1A_SAR_003", "LANDSAT_004", "SPOT_005"}),
        ("-tags:optical", {"S1A_SAR_003", "SPOT_005"}),
        ("tags:(radar OR cloudy)", {"S2B_TILE_002", "S1A_SAR_003"}),
    ],
)
def test_tags_match_an_element_of_the_list(catalog, q, expected):
    assert search(q) == expected


@pytest.mark.parametrize(
    "q, expected",
    [
        ("properties.cloud_cover:12.5", {"S2A_TILE_001"}),
        ("properties.cloud_cover:80", {"S2B_TILE_002"}),
        ("properties.cloud_cover:80.0", {"S2B_TILE_002"}),
        ("properties.orbit:-3", {"S1A_SAR_003"}),
        ("properties.cloud_cover:[0 TO 20]", {"S2A_TILE_001", "LANDSAT_004"}),
        ("properties.cloud_cover:{0 TO 20]", {"S2A_TILE_001"}),
        ("properties.cloud_cover:[0 TO 12.5}", {"LANDSAT_004"}),
        ("properties.cloud_cover:[* TO 50]", {"S2A_TILE_001", "LANDSAT_004"}),
        ("properties.cloud_cover:>=12.5", {"S2A_TILE_001", "S2B_TILE_002"}),
        ("properties.cloud_cover:>12.5", {"S2B_TILE_002"}),
        ("properties.cloud_cover:<12.5", {"LANDSAT_004"}),
        ("properties.cloud_cover:<=12.5", {"S2A_TILE_001", "LANDSAT_004"}),
        ("properties.orbit:[-5 TO 0]", {"S1A_SAR_003"}),
        ("properties.orbit:[1e1 TO 1e2]", {"S2A_TILE_001"}),
    ],
)
def test_number_properties_compare_numerically(catalog, q, expected):
    assert search(q) == expected


@pytest.mark.parametrize(
    "q, expected",
    [
        ("properties.cloud_cover:<100", {"S2A_TILE_001", "S2B_TILE_002", "LANDSAT_004"}),
        ("properties.platform:>1", set()),
        ("properties.platform:[0 TO 100]", set()),
        ("properties.cloud_cover:0", {"LANDSAT_004"}),
        ('properties.cloud_cover:"n/a"', {"S1A_SAR_003"}),
    ],
)
def test_number_never_matches_nor_breaks_on_string_properties(catalog, q, expected):
    assert search(q) == expected


def test_not_on_a_property_keeps_products_without_it_or_with_another_type(catalog):
    assert search("NOT properties.cloud_cover:>10") == {"S1A_SAR_003", "LANDSAT_004", "SPOT_005"}


@pytest.mark.parametrize(
    "q, expected",
    [
        ("properties.processed:true", {"S2A_TILE_001"}),
        ("properties.processed:false", {"S2B_TILE_002"}),
        ("properties.processed:1", set()),
        ('properties.processed:"true"', set()),
    ],
)
def test_boolean_properties_match_true_and_false_only(catalog, q, expected):
    assert search(q) == expected


@pytest.mark.parametrize(
    "q, expected",
    [
        ("properties.start:2022-06-13", {"S2A_TILE_001", "LANDSAT_004"}),
        ("properties.start:2022-06-13T10:00:00Z", {"S2A_TILE_001"}),
        ('properties.start:"2022-06-13T10:00:00Z"', {"S2A_TILE_001"}),
        (
            "properties.start:[2022-06-13 TO 2022-06-14]",
            {"S2A_TILE_001", "S2B_TILE_002", "LANDSAT_004"},
        ),
        ("properties.start:[2022-06-13 TO 2022-06-14}", {"S2A_TILE_001", "LANDSAT_004"}),
        ("properties.start:{2022-06-13 TO *]", {"S2B_TILE_002"}),
        ("properties.start:<2022-01-01", {"S1A_SAR_003"}),
        ("properties.start:<=2022-06-13", {"S2A_TILE_001", "S1A_SAR_003", "LANDSAT_004"}),
        ("properties.start:>2022-06-13", {"S2B_TILE_002"}),
        ("properties.start:>=2022-06-13T12:00:00Z", {"S2B_TILE_002"}),
    ],
)
def test_date_properties_compare_as_iso_text(catalog, q, expected):
    assert search(q) == expected


@pytest.mark.parametrize(
    "q, expected",
    [
        ("properties.platform:S2A", {"S2A_TILE_001"}),
        ("properties.platform:s2a", set()),
        ('properties.platform:"S1A"', {"S1A_SAR_003"}),
        ("properties.platform:S2*", {"S2A_TILE_001", "S2B_TILE_002"}),
        ("properties.platform:s2*", set()),  # case-sensitive, SQLite's LIKE included
        ("properties.platform:*1a", set()),
        ("properties.platform:?8", {"LANDSAT_004"}),
        ("properties.platform:[S1A TO S2A]", {"S1A_SAR_003", "S2A_TILE_001"}),
        (r"properties.note:a\:b", {"LANDSAT_004"}),
        ("properties.platform:*", {"S2A_TILE_001", "S2B_TILE_002", "S1A_SAR_003", "LANDSAT_004"}),
        ("properties.orbit:4*", set()),  # a pattern only matches text, never a number
        ("properties.contains:x", set()),  # a property named like a Django lookup
        ("properties.missing:1", set()),
    ],
)
def test_string_properties_compare_as_text(catalog, q, expected):
    assert search(q) == expected


@pytest.mark.parametrize(
    "q, expected",
    [
        ("files.dataType:QUICKLOOK_SD", {"S2A_TILE_001"}),
        ("files.dataType:RAWDATA", {"S2A_TILE_001", "S2B_TILE_002"}),
        ("files.filename:manual.pdf", {"S1A_SAR_003"}),
        ("files.filename:*.zip", {"S2A_TILE_001", "S2B_TILE_002"}),
        ("files.filename:*", {"S2A_TILE_001", "S2B_TILE_002", "S1A_SAR_003"}),
        ("-files.dataType:RAWDATA", {"S1A_SAR_003", "LANDSAT_004", "SPOT_005"}),
        ("files.dataType:RAWDATA AND files.filename:*_ql.png", {"S2A_TILE_001"}),
    ],
)
def test_file_fields_match_products_having_such_a_file(catalog, q, expected):
    assert search(q) == expected


@pytest.mark.parametrize(
    "q, expected",
    [
        ("providerId:[L TO S2]", {"LANDSAT_004", "S1A_SAR_003"}),
        ("providerId:{LANDSAT_004 TO S1A_SAR_003]", {"S1A_SAR_003"}),
        ("providerId:[LANDSAT_004 TO S1A_SAR_003}", {"LANDSAT_004"}),
        ("providerId:>=S2", {"S2A_TILE_001", "S2B_TILE_002", "SPOT_005"}),
        ("providerId:<S1", {"LANDSAT_004"}),
        ("providerId:[* TO *]", ALL),
        ("files.filename:[a TO n]", {"S1A_SAR_003"}),
    ],
)
def test_ranges_on_text_fields_compare_as_strings(catalog, q, expected):
    assert search(q) == expected


@pytest.mark.parametrize(
    "q, expected",
    [
        ("tags:optical AND properties.cloud_cover:<50", {"S2A_TILE_001", "LANDSAT_004"}),
        ("tags:radar OR providerId:SPOT_005", {"S1A_SAR_003", "SPOT_005"}),
        ("tags:optical tags:cloudy", {"S2B_TILE_002"}),
        ("tags:optical NOT toulouse", {"S2B_TILE_002", "LANDSAT_004"}),
        ("tags:optical AND NOT tags:cloudy", {"S2A_TILE_001", "LANDSAT_004"}),
        ("+tags:optical -tags:cloudy", {"S2A_TILE_001", "LANDSAT_004"}),
        ("NOT tags:optical", {"S1A_SAR_003", "SPOT_005"}),
        ("(tags:radar OR tags:cloudy) AND sentinel", {"S2B_TILE_002", "S1A_SAR_003"}),
        (
            "tags:optical OR tags:radar AND label:radar",
            {"S2A_TILE_001", "S2B_TILE_002", "LANDSAT_004"},
        ),
        ("providerId:(S2A_TILE_001 OR S1A_SAR_003)", {"S2A_TILE_001", "S1A_SAR_003"}),
        ("label:(*toulouse* OR *paris*)", {"S2A_TILE_001", "S2B_TILE_002"}),
        ("properties.cloud_cover:(>50 OR <5)", {"S2B_TILE_002", "LANDSAT_004"}),
    ],
)
def test_boolean_operators_and_groups(catalog, q, expected):
    assert search(q) == expected


def test_query_works_inside_a_subquery_with_aliased_tables(catalog):
    q = lucene_to_q("tags:radar* OR properties.cloud_cover:>50")
    products = Product.objects.filter(q, dataset=OuterRef("pk"))
    datasets = Dataset.objects.filter(Exists(products))
    assert set(datasets.values_list("label", flat=True)) == {"Optical"}


@pytest.mark.parametrize(
    "q, position",
    [
        ("label:(", 7),
        ("AND", 0),
        ('label:"abc', 6),
        ("unknown:1", 0),
        ("properties.a-b:1", 0),
        ("label:abc~2", 6),
        ("label:abc^2", 6),
        ('"a b"~3', 0),
        ("label:/ab.c/", 6),
        ("label:a:b", 6),
        ("[a TO b]", 0),
        ("tags:[a TO b]", 6),
        ("a && b", 2),
        ("!a", 0),
        ("properties.start:2022-13-45", 17),
        ("properties.processed:[true TO false]", 22),
        ("x" * 3000, 2000),
        ("a~1.2.3", None),
        ("label:a\x00b", 7),
        ("label:*a*b*c*d*e*f", 6),
        ("properties.cloud_cover:>-100", 24),  # luqum cannot read `>-`; `{-100 TO *]` works
    ],
)
def test_malformed_query_is_invalid_with_its_position(catalog, q, position):
    error = invalid(q)
    assert error.status_code == 400
    assert error.default_code == "invalid_query"
    assert error.extra == {"position": position}


def test_unknown_field_error_names_it_and_the_allowed_fields(catalog):
    message = str(invalid("unknown:1").detail)
    assert "unknown" in message
    assert "providerId" in message and "properties.<name>" in message


def test_too_deep_nesting_is_invalid(catalog):
    q = "(" * 60 + "a" + ")" * 60
    assert invalid(q).extra["position"] is not None
    assert search("(" * 20 + "toulouse" + ")" * 20) == {"S2A_TILE_001"}
