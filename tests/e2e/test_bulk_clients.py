"""Bulk downloads with real clients against a real gunicorn: curl and `unzip -t` for the
streamed zip, `aria2c -M` for the Metalink manifest of signed links (README "Bulk
downloads")."""

import hashlib
import io
import os
import subprocess
import zipfile

import pytest
import requests

from downloads.models import DownloadRecord, Quota
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    DataFileFactory,
    ProductFactory,
    QuotaFactory,
    UserFactory,
)
from tests.helpers import external, finished_records, running_downloads
from tests.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

MiB = 1024 * 1024
SEARCH = "/api/v1/rs-catalog/engines/legacy/dataobjects/search"


@pytest.fixture
def search_of_four(stored_file, storage, token_for):
    """Two products of a private dataset, four files (one of 5 MiB), a user of a group that
    may download them with a quota of 10 downloads, and that user's token header."""

    def file_in(product, content, filename):
        data_file = DataFileFactory(product=product, content=content, filename=filename)
        storage.put(content, data_file.storage_key)
        return data_file

    first = stored_file(os.urandom(5 * MiB + 7), filename="big.tif", file_access="NO_ACCESS")
    files = [
        first,
        file_in(first.product, b"<xml>one</xml>\n", filename="meta.xml"),
    ]
    second_product = ProductFactory(provider_id="BULK_B", dataset=first.product.dataset)
    first.product.provider_id = "BULK_A"
    first.product.save()
    files += [
        file_in(second_product, os.urandom(300_000), filename="band1.tif"),
        file_in(second_product, os.urandom(70_000), filename="band2.tif"),
    ]
    user = UserFactory()
    AccessRightFactory(group=AccessGroupFactory(members=[user]), dataset=first.product.dataset)
    QuotaFactory(user=user, max_quota=10)
    return files, user, {"Authorization": f"Bearer {token_for(user)}"}


def expected_paths(files):
    return {f"{f.product.provider_id}/{f.filename}": f.checksum for f in files}


def test_curl_fetches_a_search_zip_that_unzip_tests_whole(gunicorn, search_of_four, tmp_path):
    files, user, headers = search_of_four
    output = tmp_path / "search.zip"
    authorization = f"Authorization: {headers['Authorization']}"
    url = f"{gunicorn}{SEARCH}.zip?q=providerId:BULK_*"

    subprocess.run(
        [external("curl"), "-sSf", "-o", str(output), "-H", authorization, url],
        check=True,
        timeout=120,
    )

    tested = subprocess.run(
        [external("unzip"), "-t", str(output)], capture_output=True, text=True, timeout=120
    )
    assert tested.returncode == 0, tested.stdout
    assert "No errors detected" in tested.stdout
    archive = zipfile.ZipFile(output)
    for path, checksum in expected_paths(files).items():
        assert hashlib.md5(archive.read(path)).hexdigest() == checksum
    assert wait_until(lambda: finished_records().count() == 4)
    assert set(DownloadRecord.objects.values_list("outcome", flat=True)) == {"COMPLETED"}
    assert wait_until(lambda: not running_downloads().exists())
    assert Quota.objects.get(user=user).current_quota == 4


def manifest(gunicorn, headers, path):
    response = requests.get(f"{gunicorn}{SEARCH}.meta4?q=providerId:BULK_*", headers=headers)
    assert response.status_code == 200, response.text
    path.write_bytes(response.content)
    return path


def aria2c(meta4, folder):
    """aria2c downloading a manifest, 4 files at once; it checks every file's hash, and,
    with --check-integrity, those already there rather than fetching them again."""
    return subprocess.run(
        [
            external("aria2c"),
            "-M",
            str(meta4),
            "-j",
            "4",
            "-d",
            str(folder),
            "--check-integrity=true",
            "--auto-file-renaming=false",
            "--console-log-level=warn",
            "--summary-interval=0",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_aria2c_downloads_a_search_in_parallel_and_a_second_run_fetches_nothing(
    start_gunicorn, search_of_four, tmp_path
):
    gunicorn = start_gunicorn(THREADS="8")
    files, user, headers = search_of_four
    meta4 = manifest(gunicorn, headers, tmp_path / "search.meta4")
    folder = tmp_path / "downloads"

    first = aria2c(meta4, folder)

    assert first.returncode == 0, first.stdout + first.stderr
    for path, checksum in expected_paths(files).items():
        assert hashlib.md5((folder / path).read_bytes()).hexdigest() == checksum
    assert wait_until(lambda: finished_records().count() == 4)
    assert wait_until(lambda: not running_downloads().exists())
    records = list(DownloadRecord.objects.values_list("data_file", "outcome", "user"))
    assert sorted(records) == sorted((f.pk, "COMPLETED", user.pk) for f in files)
    assert Quota.objects.get(user=user).current_quota == 4  # each file once

    second = aria2c(meta4, folder)

    assert second.returncode == 0, second.stdout + second.stderr
    assert DownloadRecord.objects.count() == 4  # nothing fetched again
    assert Quota.objects.get(user=user).current_quota == 4
    for path, checksum in expected_paths(files).items():
        assert hashlib.md5((folder / path).read_bytes()).hexdigest() == checksum


def test_a_zip_failing_midway_is_broken_for_the_client(gunicorn, search_of_four, storage):
    files, _, headers = search_of_four
    big = files[0]
    (storage.root / "online" / big.storage_key).write_bytes(os.urandom(big.filesize))

    response = requests.get(f"{gunicorn}{SEARCH}.zip?q=providerId:BULK_*", headers=headers)

    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(response.content))
    record = wait_until(lambda: finished_records().first())
    assert record.outcome == "CORRUPT"
