import copy
import datetime
import hashlib
import io
import json

import pytest
from django.core.management import CommandError, call_command

from products.catalog_import import CatalogError, catalog_load
from products.models import AccessGroup, AccessRight, DataFile, Dataset, License, Product
from tests.factories import AccessGroupFactory, DatasetFactory, LicenseFactory

pytestmark = pytest.mark.django_db

OPEN = "URN:AIP:DATASET:demo:11111111-1111-4111-8111-111111111111:V1"
LICENSED = "URN:AIP:DATASET:demo:22222222-2222-4222-8222-222222222222:V1"
FIRST = "URN:FEATURE:DATA:demo:aaaaaaaa-0000-4000-8000-000000000001:V1"
SECOND = "URN:FEATURE:DATA:demo:aaaaaaaa-0000-4000-8000-000000000002:V1"


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def stored_file(name, data_type="RAWDATA", **fields):
    return {
        "dataType": data_type,
        "filename": name,
        "mimeType": "application/octet-stream",
        "checksum": md5(name),
        "digestAlgorithm": "MD5",
        "filesize": 100,
        "storage": "online",
        "types": [],
        **fields,
    }


def product(urn, dataset, number, files):
    return {
        "id": urn,
        "providerId": f"PRODUCT_{number}",
        "dataset": dataset,
        "label": f"Product {number}",
        "tags": ["demo"],
        "properties": {
            "cloud_cover": 12.5,
            "platform": "S2A",
            "start_date": "2022-06-13T10:00:00Z",
        },
        "geometry": {"type": "Point", "coordinates": [1.4, 43.6]},
        "start_date": "2022-06-13T10:00:00Z",
        "end_date": "2022-06-13T10:05:00",
        "files": files,
    }


def document():
    return {
        "licenses": [
            {
                "id": "cc-by-4.0",
                "title": "Creative Commons Attribution 4.0",
                "url": "https://creativecommons.org/licenses/by/4.0/",
                "text": "Give credit.",
                "version": 1,
            }
        ],
        "groups": [{"name": "public", "public": True}, {"name": "science"}],
        "datasets": [
            {
                "id": OPEN,
                "label": "Open data",
                "access": [
                    {"group": "public", "metadata": "FULL_ACCESS", "files": "INHERITED_ACCESS"}
                ],
            },
            {
                "id": LICENSED,
                "label": "Licensed data",
                "license": "cc-by-4.0",
                "access": [
                    {"group": "science", "metadata": "FULL_ACCESS", "files": "INHERITED_ACCESS"},
                    {"group": "public", "metadata": "FULL_ACCESS"},
                ],
            },
        ],
        "products": [
            product(
                FIRST,
                OPEN,
                1,
                [
                    stored_file("one.xml", mimeType="application/xml"),
                    stored_file("one.png", "QUICKLOOK_SD", key="quicklooks/one.png"),
                ],
            ),
            product(
                SECOND,
                LICENSED,
                2,
                [
                    {
                        "dataType": "RAWDATA",
                        "reference": True,
                        "uri": "https://example.org/data/two.nc",
                        "filename": "two.nc",
                        "mimeType": "application/x-netcdf",
                        "checksum": md5("two.nc").upper(),
                        "filesize": 1024,
                    }
                ],
            ),
        ],
    }


def load_errors(doc):
    with pytest.raises(CatalogError) as raised:
        catalog_load(document=doc)
    return raised.value.errors


def snapshot():
    """Everything an import writes but its timestamps, to compare before and after."""
    rows = {}
    for model in (License, AccessGroup, Dataset, AccessRight, Product, DataFile):
        # Access rights are replaced on each import: they are compared by content, not id.
        skip = {"created", "updated", "products_version", "summarized_version"}
        skip |= {"id"} if model is AccessRight else set()
        fields = [f.attname for f in model._meta.concrete_fields if f.name not in skip]
        values = model.objects.values_list(*fields)
        # PostgreSQL reads binary columns (a footprint) as memoryviews, which repr by address.
        rows[model.__name__] = sorted(
            repr([bytes(v) if isinstance(v, memoryview) else v for v in row]) for row in values
        )
    return rows


def test_an_import_summarizes_the_datasets_whose_products_it_wrote():
    catalog_load(document=document())

    for dataset in Dataset.objects.filter(products__isnull=False).distinct():
        assert dataset.summarized_version == dataset.products_version  # nothing left to do
        assert dataset.extent_west is not None and dataset.summaries


def test_valid_document_loads_every_entry():
    summary = catalog_load(document=document())

    assert str(summary) == (
        "licenses: 1 created, 0 updated; groups: 2 created, 0 updated; "
        "datasets: 2 created, 0 updated; products: 2 created, 0 updated; "
        "files: 3 created, 0 updated, 0 deleted"
    )
    license = License.objects.get()
    assert (license.slug, license.title, license.version) == (
        "cc-by-4.0",
        "Creative Commons Attribution 4.0",
        1,
    )
    assert license.url == "https://creativecommons.org/licenses/by/4.0/"
    assert dict(AccessGroup.objects.values_list("name", "public")) == {
        "public": True,
        "science": False,
    }
    assert Dataset.objects.get(urn=OPEN).license is None
    assert Dataset.objects.get(urn=LICENSED).license == license
    rights = AccessRight.objects.values_list(
        "dataset__urn", "group__name", "metadata_access", "file_access"
    )
    assert sorted(rights) == [
        (OPEN, "public", "FULL_ACCESS", "INHERITED_ACCESS"),
        (LICENSED, "public", "FULL_ACCESS", "NO_ACCESS"),
        (LICENSED, "science", "FULL_ACCESS", "INHERITED_ACCESS"),
    ]

    first = Product.objects.get(urn=FIRST)
    assert first.provider_id == "PRODUCT_1"
    assert first.dataset.urn == OPEN
    assert first.tags == ["demo"]
    assert first.properties["cloud_cover"] == 12.5
    assert first.geometry == {"type": "Point", "coordinates": [1.4, 43.6]}
    assert first.start_date == datetime.datetime(2022, 6, 13, 10, tzinfo=datetime.UTC)
    # A date-time without an offset is UTC.
    assert first.end_date == datetime.datetime(2022, 6, 13, 10, 5, tzinfo=datetime.UTC)

    xml = first.files.get(filename="one.xml")
    assert (xml.data_type, xml.mime_type, xml.storage, xml.reference) == (
        "RAWDATA",
        "application/xml",
        "online",
        False,
    )
    assert xml.key == ""
    assert xml.storage_key == md5("one.xml")
    assert first.files.get(filename="one.png").storage_key == "quicklooks/one.png"

    reference = DataFile.objects.get(product__urn=SECOND)
    assert reference.reference is True
    assert reference.uri == "https://example.org/data/two.nc"
    assert reference.storage == ""
    assert reference.checksum == md5("two.nc")  # stored lower-case
    assert reference.mime_type == "application/x-netcdf"
    assert reference.digest_algorithm == "MD5"


def test_loading_the_same_document_again_duplicates_nothing():
    catalog_load(document=document())
    before = snapshot()

    summary = catalog_load(document=document())

    assert str(summary) == (
        "licenses: 0 created, 1 updated; groups: 0 created, 2 updated; "
        "datasets: 0 created, 2 updated; products: 0 created, 2 updated; "
        "files: 0 created, 3 updated, 0 deleted"
    )
    assert snapshot() == before


def test_upsert_updates_fields_and_replaces_rights_and_files():
    catalog_load(document=document())
    first_ids = dict(Product.objects.values_list("urn", "id"))
    xml_id = DataFile.objects.get(filename="one.xml").id
    doc = document()
    doc["groups"][1]["public"] = True
    doc["datasets"][1]["label"] = "Licensed data, v2"
    doc["datasets"][1]["license"] = None
    doc["datasets"][1]["access"] = [{"group": "science", "metadata": "RESTRICTED_ACCESS"}]
    first = doc["products"][0]
    first["label"] = "Renamed"
    first["dataset"] = LICENSED
    first["properties"] = {"cloud_cover": 80}
    first["geometry"] = None
    del first["end_date"]
    first["files"] = [
        stored_file("one.xml", filesize=999, filename="renamed.xml"),
        stored_file("three.csv", mimeType="text/csv"),
    ]

    summary = catalog_load(document=doc)

    assert str(summary.files) == "1 created, 2 updated, 1 deleted"  # one of them in SECOND
    assert AccessGroup.objects.get(name="science").public is True
    dataset = Dataset.objects.get(urn=LICENSED)
    assert (dataset.label, dataset.license) == ("Licensed data, v2", None)
    assert list(
        dataset.access_rights.values_list("group__name", "metadata_access", "file_access")
    ) == [("science", "RESTRICTED_ACCESS", "NO_ACCESS")]
    product = Product.objects.get(urn=FIRST)
    assert product.id == first_ids[FIRST]
    assert (product.label, product.dataset, product.properties) == (
        "Renamed",
        dataset,
        {"cloud_cover": 80},
    )
    assert product.geometry is None
    assert product.end_date is None
    files = {f.checksum: f for f in product.files.all()}
    assert set(files) == {md5("one.xml"), md5("three.csv")}
    # Matched by checksum: the file keeps its id, so download records still point to it.
    assert files[md5("one.xml")].id == xml_id
    assert (files[md5("one.xml")].filename, files[md5("one.xml")].filesize) == ("renamed.xml", 999)


def test_entries_without_access_or_files_keep_their_rights_and_files():
    catalog_load(document=document())
    doc = document()
    del doc["datasets"][0]["access"]
    del doc["products"][0]["files"]

    summary = catalog_load(document=doc)

    assert str(summary.files) == "0 created, 1 updated, 0 deleted"
    assert Dataset.objects.get(urn=OPEN).access_rights.count() == 1
    assert Product.objects.get(urn=FIRST).files.count() == 2


def test_references_may_point_to_rows_already_in_the_catalog():
    license = LicenseFactory(slug="etalab-2.0")
    group = AccessGroupFactory(name="partners")
    dataset = DatasetFactory()
    doc = {
        "datasets": [
            {
                "id": OPEN,
                "label": "Partners' data",
                "license": "etalab-2.0",
                "access": [{"group": "partners", "metadata": "FULL_ACCESS"}],
            }
        ],
        "products": [product(FIRST, dataset.urn, 1, [stored_file("a.bin")])],
    }

    catalog_load(document=doc)

    assert Dataset.objects.get(urn=OPEN).license == license
    assert Dataset.objects.get(urn=OPEN).access_rights.get().group == group
    assert Product.objects.get(urn=FIRST).dataset == dataset


def license_after(text, version, *, stored_text="Give credit.", stored_version=1):
    LicenseFactory(slug="cc-by-4.0", text=stored_text, version=stored_version)
    doc = {"licenses": [{"id": "cc-by-4.0", "title": "CC BY", "text": text, "version": version}]}
    catalog_load(document=doc)
    return License.objects.get(slug="cc-by-4.0").version


def test_license_text_change_without_a_new_version_is_a_new_version():
    assert license_after("Give credit, and share alike.", 1) == 2


def test_license_text_change_keeps_a_version_bumped_by_the_document():
    assert license_after("Give credit, and share alike.", 5) == 5


def test_license_version_bump_with_the_same_text_is_a_new_version():
    assert license_after("Give credit.", 3) == 3


def test_license_version_never_goes_back():
    assert license_after("Give credit.", 1, stored_version=4) == 4


def test_reloading_a_document_after_a_version_bump_keeps_the_version():
    catalog_load(document=document())
    doc = document()
    doc["licenses"][0]["text"] = "New terms."
    catalog_load(document=doc)
    catalog_load(document=doc)

    assert License.objects.get().version == 2


def set_in(path, value):
    """A change to the valid document: set (or, with value=DELETE, remove) doc[path]."""

    def change(doc):
        *parents, last = path
        target = doc
        for step in parents:
            target = target[step]
        if value is DELETE:
            del target[last]
        else:
            target[last] = copy.deepcopy(value)

    return change


DELETE = object()
P0 = f"products[0] ({FIRST})"
P1 = f"products[1] ({SECOND})"
D1 = f"datasets[1] ({LICENSED})"


def add_duplicate(kind, index):
    def change(doc):
        doc[kind].append(copy.deepcopy(doc[kind][index]))

    return change


INVALID = [
    (set_in(["extra"], []), 'document: unknown key "extra"'),
    (set_in(["products"], {}), "products: expected an array, not {}"),
    (set_in(["products", 0, "colour"], "red"), f"{P0}.colour: unknown field"),
    (set_in(["products", 0], "oops"), 'products[0]: expected an object, not "oops"'),
    (set_in(["products", 0, "label"], DELETE), f"{P0}.label: is required"),
    (set_in(["products", 0, "label"], None), f"{P0}.label: must not be null"),
    (set_in(["products", 0, "label"], "  "), f"{P0}.label: must not be empty"),
    (set_in(["products", 0, "label"], "x" * 501), f"{P0}.label: is longer than 500 characters"),
    (set_in(["products", 0, "label"], "a\x00b"), f"{P0}.label: contains a NUL character"),
    (set_in(["products", 0, "tags"], "demo"), f'{P0}.tags: "demo" is not an array'),
    (set_in(["products", 0, "tags"], [1]), f"{P0}.tags: item 0 is 1, not a string"),
    (set_in(["products", 0, "properties"], []), f"{P0}.properties: [] is not an object"),
    (
        set_in(["products", 0, "properties"], {"x": float("nan")}),
        f"{P0}.properties: contains NaN or Infinity",
    ),
    (
        set_in(["products", 0, "id"], "URN:FEATURE:DATA:demo:nope:V1"),
        'products[0] (URN:FEATURE:DATA:demo:nope:V1).id: "URN:FEATURE:DATA:demo:nope:V1" is '
        "not a product URN",
    ),
    (
        set_in(["datasets", 0, "id"], "dataset-1"),
        'datasets[0] (dataset-1).id: "dataset-1" is not a dataset URN',
    ),
    (
        set_in(["products", 0, "dataset"], LICENSED.replace("2222", "3333")),
        f'{P0}.dataset: dataset "{LICENSED.replace("2222", "3333")}" is neither in the '
        "document nor in the catalog",
    ),
    (
        set_in(["datasets", 1, "license"], "cc-by-nc"),
        f'{D1}.license: licence "cc-by-nc" is neither in the document nor in the catalog',
    ),
    (
        set_in(["datasets", 1, "access", 0, "group"], "partners"),
        f'{D1}.access[0].group: group "partners" is neither in the document nor in the catalog',
    ),
    (
        set_in(["datasets", 1, "access", 1, "group"], "science"),
        f'{D1}.access[1].group: "science" is already in access[0]',
    ),
    (
        set_in(["datasets", 1, "access", 0, "metadata"], "READ"),
        f'{D1}.access[0].metadata: "READ" is not one of NO_ACCESS, RESTRICTED_ACCESS, FULL_ACCESS',
    ),
    (
        set_in(["datasets", 1, "access", 0, "files"], "FULL_ACCESS"),
        f'{D1}.access[0].files: "FULL_ACCESS" is not one of NO_ACCESS, INHERITED_ACCESS',
    ),
    (
        set_in(["datasets", 1, "access", 0, "metadata"], DELETE),
        f"{D1}.access[0].metadata: is required",
    ),
    (
        set_in(["products", 0, "files", 0, "dataType"], "IMAGE"),
        f'{P0}.files[0].dataType: "IMAGE" is not one of RAWDATA, QUICKLOOK_SD',
    ),
    (
        set_in(["products", 0, "files", 1, "checksum"], "zz"),
        f'{P0}.files[1].checksum: "zz" is not a hexadecimal checksum',
    ),
    (
        set_in(["products", 0, "files", 1, "checksum"], md5("one.xml").upper()),
        f'{P0}.files[1].checksum: "{md5("one.xml")}" is already the checksum of files[0]',
    ),
    (
        set_in(["products", 0, "files", 1, "checksum"], "abcdef0123"),
        f'{P0}.files[1].checksum: "abcdef0123" has 10 hexadecimal digits, a MD5 digest has 32',
    ),
    (
        set_in(["products", 0, "files", 1, "digestAlgorithm"], "CRC32"),
        f'{P0}.files[1].digestAlgorithm: "CRC32" is not a digest algorithm',
    ),
    (
        set_in(["products", 0, "files", 0, "filesize"], "100"),
        f'{P0}.files[0].filesize: "100" is not an integer',
    ),
    (
        set_in(["products", 0, "files", 0, "filesize"], True),
        f"{P0}.files[0].filesize: true is not an integer",
    ),
    (
        set_in(["products", 0, "files", 0, "filesize"], 1.5),
        f"{P0}.files[0].filesize: 1.5 is not an integer",
    ),
    (
        set_in(["products", 0, "files", 0, "filesize"], -1),
        f"{P0}.files[0].filesize: -1 is negative",
    ),
    (
        set_in(["products", 1, "files", 0, "uri"], DELETE),
        f"{P1}.files[0].uri: is required for a reference file",
    ),
    (
        set_in(["products", 1, "files", 0, "uri"], "ftp://example.org/two.nc"),
        f'{P1}.files[0].uri: "ftp://example.org/two.nc" is not an http(s) URL',
    ),
    (
        set_in(["products", 1, "files", 0, "storage"], "online"),
        f"{P1}.files[0].storage: a reference file is not stored here",
    ),
    (
        set_in(["products", 0, "files", 0, "storage"], DELETE),
        f"{P0}.files[0].storage: is required unless the file is a reference",
    ),
    (
        set_in(["products", 0, "files", 0, "storage"], "tape"),
        f'{P0}.files[0].storage: "tape" is not a storage location',
    ),
    (
        set_in(["products", 0, "files", 0, "uri"], "https://example.org/one.xml"),
        f'{P0}.files[0].uri: only a reference file ("reference": true) has one',
    ),
    (
        set_in(["products", 0, "files", 0, "key"], "/etc/passwd"),
        f"{P0}.files[0].key: invalid storage key '/etc/passwd': it is an absolute path",
    ),
    (
        set_in(["products", 0, "files", 0, "key"], "a/../../secret"),
        f"{P0}.files[0].key: invalid storage key 'a/../../secret': it contains a '..' component",
    ),
    (
        set_in(["products", 0, "geometry"], {"coordinates": [1, 2]}),
        f'{P0}.geometry: a GeoJSON geometry has a "type"',
    ),
    (
        set_in(["products", 0, "geometry"], {"type": "Circle"}),
        f'{P0}.geometry: "Circle" is not a GeoJSON geometry type',
    ),
    (
        set_in(["products", 0, "geometry"], "POINT(1 2)"),
        f'{P0}.geometry: "POINT(1 2)" is not an object',
    ),
    (
        set_in(["products", 0, "geometry"], {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}),
        f"{P0}.geometry: not a GeoJSON geometry",
    ),
    (
        set_in(["products", 0, "geometry"], {"type": "Point", "coordinates": "here"}),
        f"{P0}.geometry: not a GeoJSON geometry",
    ),
    (
        set_in(["products", 0, "geometry"], {"type": "MultiPoint", "coordinates": []}),
        f"{P0}.geometry: the geometry is empty",
    ),
    (
        set_in(["products", 0, "files", 0, "crc32"], "12345"),
        f'{P0}.files[0].crc32: "12345" is not a CRC-32',
    ),
    (
        set_in(["products", 0, "files", 0, "imageWidth"], 0),
        f"{P0}.files[0].imageWidth: 0 is not a number of pixels",
    ),
    (
        set_in(["products", 0, "files", 0, "imageHeight"], 2.5),
        f"{P0}.files[0].imageHeight: 2.5 is not an integer",
    ),
    (
        set_in(["datasets", 0, "providerId"], " "),
        f"datasets[0] ({OPEN}).providerId: must not be empty",
    ),
    (
        set_in(["products", 0, "start_date"], "13/06/2022"),
        f'{P0}.start_date: "13/06/2022" is not an ISO 8601 date-time',
    ),
    (
        set_in(["products", 0, "end_date"], "2022-06-12T00:00:00Z"),
        f"{P0}.end_date: is before start_date",
    ),
    (add_duplicate("products", 0), f"products[2] ({FIRST}).id: duplicate of products[0]"),
    (add_duplicate("groups", 1), "groups[2] (science).name: duplicate of groups[1]"),
    (add_duplicate("licenses", 0), "licenses[1] (cc-by-4.0).id: duplicate of licenses[0]"),
    (add_duplicate("datasets", 0), f"datasets[2] ({OPEN}).id: duplicate of datasets[0]"),
    (
        set_in(["licenses", 0, "id"], "cc by"),
        'licenses[0] (cc by).id: "cc by" is not a licence id',
    ),
    (
        set_in(["licenses", 0, "version"], 0),
        "licenses[0] (cc-by-4.0).version: 0 is not a version number",
    ),
    (
        set_in(["licenses", 0, "url"], "creativecommons.org"),
        'licenses[0] (cc-by-4.0).url: "creativecommons.org" is not an http(s) URL',
    ),
    (set_in(["groups", 0, "public"], "yes"), 'groups[0] (public).public: "yes" is not a boolean'),
]


@pytest.mark.parametrize(("change", "expected"), INVALID, ids=[e for _, e in INVALID])
def test_each_invalid_field_is_reported_by_entry_and_field_and_nothing_is_written(change, expected):
    doc = document()
    change(doc)

    errors = load_errors(doc)

    assert any(error.startswith(expected) for error in errors), errors
    assert snapshot() == {name: [] for name in snapshot()}


def test_feature_fields_are_loaded_and_updated():
    doc = document()
    doc["datasets"][0]["providerId"] = "OPEN_DATA"
    doc["products"][0]["geometry"] = {
        "type": "Polygon",
        "coordinates": [[[1, 43], [2, 43], [2, 44.5], [1, 43]]],
    }
    doc["products"][0]["files"][0].update(crc32="89ABCDEF", imageWidth=640, imageHeight=480)
    catalog_load(document=doc)

    assert Dataset.objects.get(urn=OPEN).provider_id == "OPEN_DATA"
    assert Dataset.objects.get(urn=LICENSED).provider_id == ""  # served as its label
    first = Product.objects.get(urn=FIRST)
    assert first.bbox == [1, 43, 2, 44.5]
    image = first.files.get(filename=doc["products"][0]["files"][0]["filename"])
    assert (image.crc32, image.image_width, image.image_height) == ("89abcdef", 640, 480)

    doc["products"][0]["geometry"] = None
    del doc["products"][0]["files"][0]["imageWidth"]
    catalog_load(document=doc)

    first.refresh_from_db()
    assert first.bbox is None
    assert first.files.get(pk=image.pk).image_width is None


def test_a_document_that_is_not_an_object_is_refused():
    assert load_errors([]) == [
        "document: expected an object with keys licenses, groups, datasets, products, not []"
    ]


def test_an_error_in_the_last_product_leaves_the_catalog_as_it_was():
    catalog_load(document=document())
    before = snapshot()
    doc = document()
    doc["datasets"][0]["label"] = "Changed"
    doc["products"][0]["label"] = "Changed"
    doc["products"] += [
        product(f"URN:FEATURE:DATA:demo:bbbbbbbb-0000-4000-8000-{n:012d}:V1", OPEN, n, [])
        for n in range(3, 103)
    ]
    doc["products"][-1]["files"] = [stored_file("last.bin", checksum="not-hex")]

    errors = load_errors(doc)

    assert len(errors) == 1
    assert errors[0].startswith("products[101] (URN:FEATURE:DATA:demo:bbbbbbbb-")
    assert errors[0].endswith('.files[0].checksum: "not-hex" is not a hexadecimal checksum')
    assert snapshot() == before


def test_every_error_is_reported_at_once():
    doc = document()
    doc["licenses"][0]["version"] = "1"
    doc["products"][0]["files"][0]["checksum"] = "zz"
    doc["products"][1]["dataset"] = "URN:AIP:DATASET:demo:99999999-9999-4999-8999-999999999999:V1"
    doc["products"][1]["label"] = 7

    errors = load_errors(doc)

    assert errors == [
        'licenses[0] (cc-by-4.0).version: "1" is not an integer',
        f'{P0}.files[0].checksum: "zz" is not a hexadecimal checksum',
        f"{P1}.label: 7 is not a string",
        f"{P1}.dataset: dataset "
        '"URN:AIP:DATASET:demo:99999999-9999-4999-8999-999999999999:V1" '
        "is neither in the document nor in the catalog",
    ]


# The command.


def test_load_catalog_reads_a_file_and_prints_a_summary(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(document()))
    out = io.StringIO()

    call_command("load_catalog", str(path), stdout=out)

    assert out.getvalue().strip() == (
        "licenses: 1 created, 0 updated; groups: 2 created, 0 updated; "
        "datasets: 2 created, 0 updated; products: 2 created, 0 updated; "
        "files: 3 created, 0 updated, 0 deleted"
    )
    assert Product.objects.count() == 2


def test_load_catalog_reads_standard_input_given_a_dash():
    out = io.StringIO()

    call_command("load_catalog", "-", stdin=io.StringIO(json.dumps(document())), stdout=out)

    assert "products: 2 created, 0 updated" in out.getvalue()
    assert Product.objects.count() == 2


def test_load_catalog_reports_bad_json_with_its_line_and_column(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text('{\n  "groups": [\n    {"name": "public",}\n  ]\n}\n')

    with pytest.raises(CommandError) as raised:
        call_command("load_catalog", str(path))

    assert str(raised.value).startswith(f"{path}: invalid JSON at line 3, column 23:")
    assert AccessGroup.objects.count() == 0


def test_load_catalog_lists_every_error_one_per_line_and_writes_nothing(tmp_path):
    doc = document()
    doc["products"][0]["files"][0]["checksum"] = "zz"
    doc["products"][1]["label"] = 7
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(doc))

    with pytest.raises(CommandError) as raised:
        call_command("load_catalog", str(path))

    assert str(raised.value).splitlines() == [
        f"{path}: 2 errors, nothing was imported:",
        f'{P0}.files[0].checksum: "zz" is not a hexadecimal checksum',
        f"{P1}.label: 7 is not a string",
    ]
    assert Dataset.objects.count() == 0


def test_load_catalog_reports_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="cannot read it"):
        call_command("load_catalog", str(tmp_path / "missing.json"))
