"""Bulk downloads as Metalink 4 manifests (RFC 5854): `…/dataobjects/search.meta4?q=` and
`…/dataobjects/{urn}/files.meta4` (README "Bulk downloads")."""

import os
from xml.etree import ElementTree

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from downloads.models import DownloadRecord, Quota
from products.models import DataFile
from tests.factories import AccessGroupFactory, AccessRightFactory, LicenseFactory, UserFactory
from tests.helpers import assert_api_error, body_of, md5

pytestmark = pytest.mark.django_db

SEARCH_META4 = "/api/v1/rs-catalog/engines/legacy/dataobjects/search.meta4"
NS = {"m": "urn:ietf:params:xml:ns:metalink"}


def product_meta4(product):
    return f"/api/v1/rs-catalog/engines/legacy/dataobjects/{product.urn}/files.meta4"


@pytest.fixture
def member(stored_file, file_in, client_for):
    """A user who may download the private files of a product holding a raw file, a
    quicklook and a nearline raw file not restored; the user's client."""
    raw = stored_file(os.urandom(200_000), filename="scene.tif", file_access="NO_ACCESS")
    product = raw.product
    product.provider_id = "SCENE_1"
    product.save()
    quicklook = file_in(
        product, b"\x89PNG ql", filename="ql.png", data_type=DataFile.DataType.QUICKLOOK_SD
    )
    nearline = file_in(product, b"on tape\n", filename="tape.dat", location="nearline")
    user = UserFactory()
    AccessRightFactory(group=AccessGroupFactory(members=[user]), dataset=product.dataset)
    return {
        "user": user,
        "client": client_for(user),
        "product": product,
        "files": [raw, quicklook, nearline],
    }


def parsed(response):
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/metalink4+xml"
    assert "no-store" in response["Cache-Control"]
    return ElementTree.fromstring(response.content)


def file_entries(root):
    """{name: (size, md5, url)} of a manifest's <file> elements."""
    return {
        element.get("name"): (
            int(element.find("m:size", NS).text),
            element.find("m:hash[@type='md5']", NS).text,
            element.find("m:url", NS).text,
        )
        for element in root.findall("m:file", NS)
    }


def test_a_manifest_lists_each_file_with_size_md5_and_a_signed_link(member):
    root = parsed(member["client"].get(SEARCH_META4, {"q": "providerId:SCENE_1"}))

    raw, quicklook, _ = member["files"]
    entries = file_entries(root)
    assert set(entries) == {"SCENE_1/scene.tif", "SCENE_1/ql.png"}
    for name, data_file in [("SCENE_1/scene.tif", raw), ("SCENE_1/ql.png", quicklook)]:
        size, checksum, url = entries[name]
        assert (size, checksum) == (data_file.filesize, data_file.checksum)
        assert url.startswith("http://testserver/api/v1/rs-catalog/downloads/")
        assert f"user={member['user'].pk}" in url and "signature=" in url
        assert "token" not in url
    # Making the manifest counts nothing: the downloads count when the links are used.
    assert not DownloadRecord.objects.exists()


def test_a_signed_link_of_the_manifest_downloads_without_a_token(member):
    root = parsed(member["client"].get(product_meta4(member["product"])))
    size, checksum, url = file_entries(root)["SCENE_1/scene.tif"]

    response = APIClient().get(url)  # no credentials: the link says who asks

    assert response.status_code == 200
    assert md5(body_of(response)) == checksum
    record = DownloadRecord.objects.get()
    assert (record.user, record.outcome, record.bytes_sent) == (member["user"], "COMPLETED", size)
    assert Quota.objects.get(user=member["user"]).current_quota == 1


def test_a_nearline_file_not_restored_is_a_comment_with_its_restore_link(member):
    response = member["client"].get(product_meta4(member["product"]))

    parsed(response)
    nearline = member["files"][2]
    text = response.content.decode()
    assert (
        f"<!-- left out: SCENE_1/tape.dat ({nearline.product.urn} {nearline.checksum}): "
        "restore_required:" in text
    )
    assert "to http://testserver/api/v1/rs-catalog/restore -->" in text


def test_a_reference_file_is_listed_with_its_external_url(member, file_in):
    file_in(
        member["product"],
        b"elsewhere",
        filename="far.nc",
        reference=True,
        uri="https://data.example.org/far.nc",
    )

    entries = file_entries(parsed(member["client"].get(product_meta4(member["product"]))))

    assert entries["SCENE_1/far.nc"][2] == "https://data.example.org/far.nc"


def test_an_anonymous_manifest_has_plain_download_links(member, api_client):
    entries = file_entries(parsed(api_client.get(product_meta4(member["product"]))))

    # Only the quicklook: anonymous callers are in the public group, without file access.
    ((name, (_, _, url)),) = entries.items()
    assert name == "SCENE_1/ql.png"
    quicklook = member["files"][1]
    assert url == (
        "http://testserver/api/v1/rs-catalog/downloads/"
        f"{quicklook.product.urn}/files/{quicklook.checksum}"
    )


def test_a_missing_licence_is_a_423_instead_of_the_manifest(member):
    dataset = member["product"].dataset
    dataset.license = LicenseFactory()
    dataset.save()

    response = member["client"].get(product_meta4(member["product"]))

    assert_api_error(response, 423, "license_not_accepted")


def test_more_files_than_bulk_max_files_is_a_400(member, settings):
    settings.BULK_MAX_FILES = 1

    response = member["client"].get(SEARCH_META4)

    assert_api_error(response, 400, "too_many_files", maxFiles=1)


def test_a_manifest_costs_the_same_queries_whatever_its_number_of_files(member, file_in):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            parsed(member["client"].get(product_meta4(member["product"])))
        return len(captured)

    before = queries()
    for number in range(8):
        file_in(member["product"], f"more {number}\n".encode(), filename=f"more{number}.dat")

    assert queries() == before
