"""The STAC API (README, "STAC API") checked by the community's validators, unmodified,
against gunicorn: stac-api-validator for every conformance class it can test, and
stac-validator on every collection and item of the demo catalog. Their JSON schemas come
from tests/e2e/stac_schemas/ through `SchemaProxy`: the tests need no internet, and a
schema that is not vendored fails them instead of being skipped."""

import datetime
import io
import json
import os
import subprocess
import sys

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import call_command
from stac_validator.stac_validator import StacValidate

from products.models import DataFile, Dataset, License, Product
from tests.e2e.schema_proxy import SchemaProxy
from tests.factories import (
    AccessRightFactory,
    DataFileFactory,
    DatasetFactory,
    LicenseAcceptanceFactory,
    LicenseFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

STAC = "/api/v1/rs-catalog/stac"
VALIDATOR_TIMEOUT = 600  # seconds; the whole run takes well under a minute here
# Each STAC API conformance class the landing page declares, by the name stac-api-validator
# 0.6.8 tests it under; None where it has no test (collection search). It only logs
# "not yet supported" for the ogcapi-features extensions, and tests item-search#filter
# (CQL2 text and JSON, basic and advanced comparisons) as `filter`.
VALIDATOR_CLASSES = {
    "core": "core",
    "collections": "collections",
    "ogcapi-features": "features",
    "ogcapi-features#fields": "features#fields",
    "ogcapi-features#sort": "features#sort",
    "ogcapi-features#query": "features#query",
    "item-search": "item-search",
    "item-search#fields": "item-search#fields",
    "item-search#sort": "item-search#sort",
    "item-search#query": "item-search#query",
    "item-search#filter": "filter",
    "collection-search": None,
    "collection-search#free-text": None,
}
CONFORMANCE = [name for name in VALIDATOR_CLASSES.values() if name is not None]
UTC = datetime.UTC
PLATFORMS = ["S2A", "S2B", "L8"]


def square(west, south, size=1.0):
    east, north = west + size, south + size
    return {
        "type": "Polygon",
        "coordinates": [
            [[west, south], [east, south], [east, north], [west, north], [west, south]]
        ],
    }


@pytest.fixture
def schema_proxy(tmp_path):
    with SchemaProxy(tmp_path) as proxy:
        yield proxy


def stored(storage, product, content, **fields):
    """A DataFile of `product` whose bytes are in the `online` location."""
    data_file = DataFileFactory(product=product, content=content, **fields)
    storage.put(content, data_file.storage_key)
    return data_file


@pytest.fixture
def realistic_catalog(storage, public_group):
    """Three public collections (an SPDX licence, another licence, none) of products over
    France with geometries, dates (instants; intervals in the last collection), EO
    properties, a raw file and a quicklook each: the first collection is the one the
    validator searches."""
    licenses = [LicenseFactory(slug="cc-by-4.0"), LicenseFactory(title="CNES licence"), None]
    datasets = []
    for n, license in enumerate(licenses):
        dataset = DatasetFactory(label=f"Sentinel-2 L1C tiles {n}", license=license)
        AccessRightFactory(group=public_group, dataset=dataset)
        datasets.append(dataset)
        for day in range(1, 7):
            start = datetime.datetime(2024, 3, day, 10, 30 + n, tzinfo=UTC)
            product = ProductFactory(
                dataset=dataset,
                label=f"S2 tile {n}-{day}",
                geometry=square(-1 + day, 43 + n),
                start_date=start,
                end_date=start + datetime.timedelta(minutes=5) if n == 2 else None,
                properties={
                    "cloud_cover": day * 10,
                    "platform": PLATFORMS[day % 3],
                    "processing_level": "L1C",
                    "orbit": 100 + day,
                    "quality": "ABC"[day % 3],
                },
            )
            stored(storage, product, f"tile {n}-{day}\n".encode() * 50, mime_type="image/tiff")
            stored(
                storage,
                product,
                f"quicklook {n}-{day}".encode(),
                data_type=DataFile.DataType.QUICKLOOK_SD,
                filename=f"ql-{n}-{day}.png",
                mime_type="image/png",
            )
    return datasets


def validator_command(root, collection):
    geometry = json.dumps(square(1, 43))
    return [
        sys.executable,
        "-m",
        "stac_api_validator",
        "--root-url",
        root,
        *(argument for name in CONFORMANCE for argument in ("--conformance", name)),
        "--collection",
        collection,
        "--geometry",
        geometry,
        "--fields-nested-property",
        "properties.cloud_cover",
        "--validate-pagination",
        "--query-comparison-field",
        "cloud_cover",
        "--query-eq-value",
        "30",
        "--query-neq-value",
        "30",
        "--query-lt-value",
        "30",
        "--query-lte-value",
        "30",
        "--query-gt-value",
        "30",
        "--query-gte-value",
        "30",
        "--query-substring-field",
        "platform",
        "--query-starts-with-value",
        "S2",
        "--query-ends-with-value",
        "B",
        "--query-contains-value",
        "2",
        # stac-api-validator 0.6.8 checks `in` on a text property as the set of its
        # characters: the field must hold one-character values for its check to hold.
        "--query-in-field",
        "quality",
        "--query-in-values",
        "A,C",
    ]


def run_validator(command, proxy):
    """The finished validator process (its output captured), fetching schemas offline."""
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=VALIDATOR_TIMEOUT,
        env={**os.environ, **proxy.environment()},
    )


def test_stac_api_validator_passes_every_declared_conformance_class(
    gunicorn, realistic_catalog, schema_proxy
):
    root = gunicorn + STAC
    declared = requests.get(root, timeout=30).json()["conformsTo"]

    result = run_validator(validator_command(root, realistic_catalog[0].urn), schema_proxy)

    output = result.stdout + result.stderr
    print(output)  # its warnings, shown with -s or when the test fails
    # Its CLI exits 0 even when it crashes ("Failed."): its report is what tells.
    assert result.returncode == 0, output
    assert "Failed." not in output, output
    assert "Errors: none" in output, output
    assert schema_proxy.misses == [], schema_proxy.misses
    # It did validate against the vendored schemas: core, extension and GeoJSON ones.
    assert any("item-spec/json-schema/item.json" in url for url in schema_proxy.served)
    assert any("collection-spec/json-schema/collection.json" in url for url in schema_proxy.served)
    assert any("stac-extensions.github.io/file/" in url for url in schema_proxy.served)
    # What it tested is what the landing page declares: a class declared later must be
    # added to VALIDATOR_CLASSES (and to the run) for this test to pass again.
    stac_classes = {
        uri.split("/", 4)[4] for uri in declared if uri.startswith("https://api.stacspec.org/")
    }
    assert stac_classes == set(VALIDATOR_CLASSES)


# stac-validator on the demo catalog (`make run`)


@pytest.fixture
def demo_server(storage, start_gunicorn):
    """gunicorn serving the demo, loaded as `make run` loads it, with its nearline location."""
    call_command("load_demo", stdout=io.StringIO())
    nearline = {
        "backend": "local",
        "root": str(storage.root / "nearline"),
        "tier": "nearline",
        "cache": str(storage.root / "cache"),
    }
    return start_gunicorn(locations={"nearline": nearline}, THREADS="4")


def test_stac_validator_passes_every_collection_and_item_of_the_demo(
    demo_server, token_for, schema_proxy, monkeypatch
):
    for name, value in schema_proxy.environment().items():
        monkeypatch.setenv(name, value)  # requests reads them on each call
    steward = get_user_model().objects.get(email="steward@example.org")  # sees everything
    for license in License.objects.all():  # and may download every online file
        LicenseAcceptanceFactory(user=steward, license=license)
    headers = {"Authorization": f"Bearer {token_for(steward)}"}
    root = demo_server + STAC

    def get(url):
        response = requests.get(url, headers=headers, timeout=30)
        assert response.status_code == 200, (url, response.content[:500])
        return response.json()

    def self_link(entity):
        return next(link["href"] for link in entity["links"] if link["rel"] == "self")

    urls = []
    for collection in get(f"{root}/collections")["collections"]:
        urls.append(self_link(collection))
        items = get(f"{self_link(collection)}/items?limit=1000")
        urls += [self_link(item) for item in items["features"]]
    results = {}
    for url in urls:
        validator = StacValidate(links=True, assets=True, headers=headers)
        validator.validate_dict(get(url))
        results[url] = validator.message[-1]

    assert len(urls) == Dataset.objects.count() + Product.objects.count() == 4 + 10
    invalid = {url: m.get("error_message") for url, m in results.items() if not m["valid_stac"]}
    assert invalid == {}
    unreachable = set()  # nearline files (to restore first), and references on the internet
    for url, message in results.items():
        assert any("json-schema/" in schema for schema in message["schema"]), message
        assert message["links_validated"]["request_invalid"] == [], (url, message)
        for asset in get(url).get("assets", {}).values():
            if asset.get("regards:tier") == "nearline" or not asset["href"].startswith(demo_server):
                unreachable.add(asset["href"])
        if "assets_validated" in message:
            failed = set(message["assets_validated"]["request_invalid"])
            assert failed <= unreachable, (url, failed - unreachable)
    external_hosts = {
        href.split("/")[2] for href in unreachable if not href.startswith(demo_server)
    }
    assert set(schema_proxy.misses) == {f"https://{host}/…" for host in external_hosts}
    items = [m for m in results.values() if m["asset_type"] == "ITEM"]
    assert all(any("file/v2.1.0" in schema for schema in m["schema"]) for m in items)
