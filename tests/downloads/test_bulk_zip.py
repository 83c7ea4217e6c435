"""Bulk downloads as a streamed zip: `…/dataobjects/search.zip?q=` and
`…/dataobjects/{urn}/files.zip` (README "Bulk downloads")."""

import io
import os
import zipfile

import pytest

from downloads.models import DownloadRecord, Quota
from products.models import AccessRight, DataFile
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    LicenseAcceptanceFactory,
    LicenseFactory,
    ProductFactory,
    QuotaFactory,
    UserFactory,
)
from tests.helpers import assert_api_error, body_of, md5

pytestmark = pytest.mark.django_db

SEARCH_ZIP = "/api/v1/rs-catalog/engines/legacy/dataobjects/search.zip"
MiB = 1024 * 1024
LARGE = 3 * MiB + 12345  # several 1 MiB chunks of the storage


def product_zip(product):
    return f"/api/v1/rs-catalog/engines/legacy/dataobjects/{product.urn}/files.zip"


@pytest.fixture
def scientist(stored_file, file_in, client_for):
    """A user of a group that may download the private files of one product's dataset,
    with a maxQuota of 10; that product holds a large file and two small ones (one a
    quicklook), and its client."""
    large = stored_file(os.urandom(LARGE), filename="scene.tif", file_access="NO_ACCESS")
    product = large.product
    product.provider_id = "S2A_SCENE"
    product.save()
    small = file_in(product, b"metadata bytes\n", filename="scene.xml")
    quicklook = file_in(
        product, b"\x89PNG quicklook", filename="ql.png", data_type=DataFile.DataType.QUICKLOOK_SD
    )
    user = UserFactory()
    AccessRightFactory(group=AccessGroupFactory(members=[user]), dataset=product.dataset)
    QuotaFactory(user=user, max_quota=10)
    return {
        "user": user,
        "client": client_for(user),
        "product": product,
        "files": [large, small, quicklook],
    }


def unzipped(content):
    """{path: bytes} of a zip, checked to be stored (not compressed) with good CRCs."""
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert archive.testzip() is None
    assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
    return {name: archive.read(name) for name in archive.namelist()}


def manifest_lines(files):
    return files["MANIFEST.txt"].decode().splitlines()


def test_a_search_zip_holds_every_file_with_its_md5_in_the_manifest(scientist, storage):
    response = scientist["client"].get(SEARCH_ZIP, {"q": "providerId:S2A_SCENE"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="search.zip"')
    assert response.streaming  # never built in memory
    files = unzipped(body_of(response))
    large, small, quicklook = scientist["files"]
    expected = {
        "S2A_SCENE/scene.tif": large,
        "S2A_SCENE/scene.xml": small,
        "S2A_SCENE/ql.png": quicklook,
    }
    assert set(files) == {*expected, "MANIFEST.txt"}
    for path, data_file in expected.items():
        assert md5(files[path]) == data_file.checksum
        assert f"MD5 ({path}) = {data_file.checksum}" in manifest_lines(files)
    assert "# 3 files in this archive, 0 left out." in manifest_lines(files)


def test_each_file_of_a_zip_is_one_counted_and_recorded_download(scientist):
    body_of(scientist["client"].get(product_zip(scientist["product"])))

    records = DownloadRecord.objects.order_by("id")
    assert [(r.data_file, r.outcome, r.bytes_sent, r.status_code) for r in records] == [
        (f, "COMPLETED", f.filesize, 200) for f in scientist["files"]
    ]
    assert not records.filter(lease_expires__isnull=False).exists()  # every slot freed
    quota = Quota.objects.get(user=scientist["user"])
    # The RAWDATA files count (the quicklook needs no quota), and every private byte.
    assert quota.current_quota == 2
    assert quota.current_volume == LARGE + len(b"metadata bytes\n")


def test_a_product_zip_is_named_after_the_product(scientist):
    response = scientist["client"].get(product_zip(scientist["product"]))

    assert response["Content-Disposition"].startswith('attachment; filename="S2A_SCENE.zip"')
    assert len(unzipped(body_of(response))) == 4


def test_files_the_caller_may_not_download_are_not_in_the_zip(scientist, client_for):
    stranger = client_for(UserFactory())  # sees the product (public group), no file access

    files = unzipped(body_of(stranger.get(product_zip(scientist["product"]))))

    assert set(files) == {"S2A_SCENE/ql.png", "MANIFEST.txt"}


def test_a_file_refused_for_quota_is_left_out_and_named_in_the_manifest(scientist):
    Quota.objects.filter(user=scientist["user"]).update(max_quota=1)

    files = unzipped(body_of(scientist["client"].get(product_zip(scientist["product"]))))

    assert set(files) == {"S2A_SCENE/scene.tif", "S2A_SCENE/ql.png", "MANIFEST.txt"}
    small = scientist["files"][1]
    assert any(
        line.startswith(f"# left out: S2A_SCENE/scene.xml ({small.product.urn} {small.checksum})")
        and "quota_exceeded" in line
        for line in manifest_lines(files)
    )
    refusal = DownloadRecord.objects.get(data_file=small)
    assert (refusal.outcome, refusal.status_code) == ("QUOTA_EXCEEDED", 429)
    assert Quota.objects.get(user=scientist["user"]).current_quota == 1


def test_a_file_missing_from_storage_is_left_out_and_counts_nothing(scientist, storage):
    small = scientist["files"][1]
    (storage.root / "online" / small.storage_key).unlink()

    files = unzipped(body_of(scientist["client"].get(product_zip(scientist["product"]))))

    assert "S2A_SCENE/scene.xml" not in files
    assert any(
        "S2A_SCENE/scene.xml" in line and "storage_file_missing" in line
        for line in manifest_lines(files)
    )
    record = DownloadRecord.objects.get(data_file=small)
    assert (record.outcome, record.bytes_sent, record.status_code) == ("STORAGE_ERROR", 0, 502)
    assert Quota.objects.get(user=scientist["user"]).current_quota == 1  # the large file only


def test_a_file_failing_midway_ends_the_zip_short(scientist, storage):
    large = scientist["files"][0]
    path = storage.root / "online" / large.storage_key
    path.write_bytes(os.urandom(LARGE))  # same size, other bytes: found at the last chunk

    content = body_of(scientist["client"].get(product_zip(scientist["product"])))

    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(content))
    record = DownloadRecord.objects.get(data_file=large)
    assert record.outcome == "CORRUPT"
    assert 0 < record.bytes_sent < LARGE  # the chunks before the mismatch went out
    assert record.bytes_sent == 3 * MiB
    # Nothing after it was opened, let alone counted.
    assert DownloadRecord.objects.count() == 1


def test_a_nearline_file_not_restored_is_left_out_with_its_restore_link(scientist, file_in):
    nearline = file_in(scientist["product"], b"on tape\n", filename="raw.dat", location="nearline")

    files = unzipped(body_of(scientist["client"].get(product_zip(scientist["product"]))))

    assert "S2A_SCENE/raw.dat" not in files
    (line,) = [line for line in manifest_lines(files) if "S2A_SCENE/raw.dat" in line]
    assert "restore_required" in line
    assert "restore: http://testserver/api/v1/rs-catalog/restore" in line
    assert not DownloadRecord.objects.filter(data_file=nearline).exists()


def test_a_missing_licence_is_a_423_before_any_byte(scientist):
    dataset = scientist["product"].dataset
    dataset.license = license = LicenseFactory()
    dataset.save()

    response = scientist["client"].get(SEARCH_ZIP, {"q": "providerId:S2A_SCENE"})

    body = assert_api_error(response, 423, "license_not_accepted")
    assert body["license"] == f"http://testserver/licenses/{license.slug}"
    assert body["accept"] == (
        "http://testserver" + SEARCH_ZIP + "?q=providerId%3AS2A_SCENE&acceptLicense=true"
    )
    assert not DownloadRecord.objects.exists()

    response = scientist["client"].get(body["accept"])  # accepts, and downloads

    assert response.status_code == 200
    assert len(unzipped(body_of(response))) == 4


def test_an_accepted_licence_lets_the_zip_through(scientist):
    dataset = scientist["product"].dataset
    dataset.license = LicenseFactory()
    dataset.save()
    LicenseAcceptanceFactory(user=scientist["user"], license=dataset.license)

    response = scientist["client"].get(product_zip(scientist["product"]))

    assert len(unzipped(body_of(response))) == 4


def test_more_files_than_bulk_max_files_is_a_400_that_says_how_to_narrow(scientist, settings):
    settings.BULK_MAX_FILES = 2

    response = scientist["client"].get(SEARCH_ZIP, {"q": "providerId:S2A_SCENE"})

    body = assert_api_error(response, 400, "too_many_files", maxFiles=2)
    assert "narrow" in body["message"]
    assert not DownloadRecord.objects.exists()


def test_the_search_zip_takes_the_search_parameters_and_no_others(scientist, stored_file):
    other = stored_file(b"another product\n")

    files = unzipped(body_of(scientist["client"].get(SEARCH_ZIP, {"q": "S2A*"})))
    assert not any(other.filename in path for path in files)

    response = scientist["client"].get(SEARCH_ZIP, {"page": "2"})
    assert_api_error(response, 400, "invalid_request", parameter="page")
    assert_api_error(scientist["client"].get(SEARCH_ZIP, {"q": "a:("}), 400, "invalid_query")


def test_a_product_zip_of_an_unseen_or_unknown_product_is_refused(client_for, api_client):
    hidden = ProductFactory()
    AccessRightFactory(
        dataset=hidden.dataset, metadata_access=AccessRight.MetadataAccess.FULL_ACCESS
    )  # a group the caller is not in

    assert_api_error(client_for(UserFactory()).get(product_zip(hidden)), 403, "forbidden")
    assert_api_error(api_client.get(product_zip(hidden)), 401, "forbidden")
    unknown = f"/api/v1/rs-catalog/engines/legacy/dataobjects/{hidden.urn[:-1]}9/files.zip"
    assert_api_error(api_client.get(unknown), 404, "not_found")


def test_head_of_a_zip_counts_nothing(scientist):
    response = scientist["client"].head(product_zip(scientist["product"]))

    assert response.status_code == 405
    assert not DownloadRecord.objects.exists()


def test_same_file_names_get_distinct_paths(stored_file, file_in, api_client):
    first = stored_file(b"one\n", filename="data.nc")
    first.product.provider_id = "P"
    first.product.save()
    file_in(first.product, b"two\n", filename="DATA.nc")
    file_in(first.product, b"three\n", filename="../../etc/passwd")

    files = unzipped(body_of(api_client.get(product_zip(first.product))))

    assert files["P/data.nc"] == b"one\n"
    assert files["P/DATA~2.nc"] == b"two\n"
    assert files["P/_.._etc_passwd"] == b"three\n"


ZIP64_SIZE = 4 * 1024 * MiB + 1  # one byte past what a zip without zip64 records can hold
ZIP64_ZEROS_MD5 = "f18c798ff5d450dfe4d3acdc12b621ff"  # of ZIP64_SIZE zero bytes (hashlib)
KEPT = 64 * 1024


def test_a_file_over_4_gib_gets_zip64_records(stored_file, api_client, storage, tmp_path):
    """A sparse file of zeros: nothing of its 4 GiB is written to disk, here or in the zip
    read back, whose middle (the file's zeros) is a hole of a sparse file too. The entry's
    bytes are not read back (reading holes costs 4 s per GiB here): its CRC is zipfile's
    to check, its sizes and zip64 records are ours."""
    data_file = stored_file(b"", filename="huge.bin", checksum=ZIP64_ZEROS_MD5)
    data_file.filesize = ZIP64_SIZE
    data_file.save()
    with open(storage.root / "online" / data_file.storage_key, "wb") as stored:
        stored.truncate(ZIP64_SIZE)

    response = api_client.get(product_zip(data_file.product))
    head, tail, total = b"", b"", 0
    for chunk in response.streaming_content:  # to the end: the test client then closes it
        if len(head) < KEPT:
            head += chunk[: KEPT - len(head)]
        tail = (tail + chunk[-KEPT:])[-KEPT:]
        total += len(chunk)

    copy = tmp_path / "huge.zip"
    with open(copy, "wb") as sparse:
        sparse.truncate(total)
        sparse.write(head)
        sparse.seek(total - len(tail))
        sparse.write(tail)
    archive = zipfile.ZipFile(copy)
    (info,) = [i for i in archive.infolist() if i.filename.endswith("huge.bin")]
    assert (info.file_size, info.compress_size) == (ZIP64_SIZE, ZIP64_SIZE)
    assert info.compress_type == zipfile.ZIP_STORED
    assert info.extra[:2] == b"\x01\x00"  # the zip64 extended information field
    manifest = archive.read("MANIFEST.txt").decode()  # found past 4 GiB: zip64 offsets
    assert f"MD5 ({info.filename}) = {ZIP64_ZEROS_MD5}" in manifest
    record = DownloadRecord.objects.get()
    assert (record.outcome, record.bytes_sent) == ("COMPLETED", ZIP64_SIZE)
