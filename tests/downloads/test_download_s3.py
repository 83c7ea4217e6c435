"""Downloads from `s3` storage locations, through the API, against moto's S3 server:
relayed with Range and digest checks, redirected to presigned URLs, and restored from a
Glacier class by process_restores."""

import hashlib
import json
import logging
import os
import subprocess
from datetime import datetime
from email.utils import parsedate_to_datetime

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone

from downloads import services
from downloads.models import DownloadRecord, Quota, RestoreRequest
from tests.factories import AccessGroupFactory, AccessRightFactory, QuotaFactory, UserFactory
from tests.helpers import (
    assert_api_error,
    assert_nothing_consumed,
    body_of,
    download_url,
    external,
    md5,
    run_command,
)
from tests.processes import DEADLINE, wait_until
from tests.s3 import BUCKET

pytestmark = pytest.mark.django_db

Outcome = DownloadRecord.Outcome
MIB = 1024 * 1024
# Location name -> its prefix in the bucket.
PREFIXES = {"s3": "online/", "s3-redirect": "online/", "s3-unverified": "online/"}
PREFIXES["glacier"] = "tape/"
RESTORE = "/api/v1/rs-catalog/restore"


def write_config(settings, storage, tmp_path, s3_server):
    config = {
        "locations": {
            "online": {"backend": "local", "root": str(storage.root / "online")},
            "s3": s3_server.location(prefix="online"),
            "s3-redirect": s3_server.location(prefix="online", redirect=True),
            "s3-unverified": s3_server.location(prefix="online", verify=False),
            "glacier": s3_server.location(prefix="tape", tier="nearline"),
        }
    }
    path = tmp_path / "storage.json"
    path.write_text(json.dumps(config))
    settings.STORAGE_CONFIG = str(path)


@pytest.fixture
def s3_locations(settings, storage, tmp_path, s3_server):
    """STORAGE_CONFIG names the S3 locations of PREFIXES, on `s3_server`."""
    write_config(settings, storage, tmp_path, s3_server)
    return s3_server


@pytest.fixture
def s3_file(stored_file, s3_locations):
    """s3_file(content, location="s3", stored=content, storage_class=…) → a DataFile of
    `content` (its checksum and size) whose object in the bucket holds `stored`."""

    def make(content, *, location="s3", stored=None, storage_class="STANDARD", **fields):
        data_file = stored_file(content, location=location, **fields)
        key = PREFIXES[location] + data_file.storage_key
        s3_locations.put(key, content if stored is None else stored, storage_class=storage_class)
        return data_file

    return make


@pytest.fixture
def private_s3_file(s3_file, client_for):
    """private_s3_file(content, **s3_file fields) → (a private file in S3, the client of a
    user allowed to download it, that user's quota: 5 downloads)."""

    def make(content, **fields):
        data_file = s3_file(content, file_access="NO_ACCESS", **fields)
        user = UserFactory()
        group = AccessGroupFactory(members=[user])
        AccessRightFactory(group=group, dataset=data_file.product.dataset)
        return data_file, client_for(user), QuotaFactory(user=user, max_quota=5)

    return make


def read_until_failure(response):
    received = bytearray()
    with pytest.raises(Exception):  # noqa: B017 - the relay's error ends the body
        for chunk in response.streaming_content:
            received += chunk
    return bytes(received)


# Relayed


def test_an_s3_file_downloads_whole_and_is_recorded_as_completed(api_client, s3_file):
    content = os.urandom(3 * MIB + 17)
    data_file = s3_file(content, filename="scene.bin")
    response = api_client.get(download_url(data_file))
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(content))
    assert response["ETag"] == f'"{md5(content)}"'
    assert response["Content-Disposition"].startswith('attachment; filename="scene.bin"')
    assert body_of(response) == content
    record = DownloadRecord.objects.get()
    assert (record.outcome, record.bytes_sent) == (Outcome.COMPLETED, len(content))


def test_a_range_of_an_s3_file_is_206(api_client, s3_file):
    content = os.urandom(2 * MIB)
    data_file = s3_file(content)
    start, end = MIB - 10, MIB + 9
    response = api_client.get(download_url(data_file), HTTP_RANGE=f"bytes={start}-{end}")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(content)}"
    assert body_of(response) == content[start : end + 1]
    record = DownloadRecord.objects.get()
    assert (record.status_code, record.range_start, record.bytes_sent) == (206, start, 20)


def test_if_range_resumes_with_the_etag_and_restarts_without_it(api_client, s3_file):
    content = os.urandom(MIB + 5)
    data_file = s3_file(content)
    url = download_url(data_file)
    etag = api_client.head(url)["ETag"]

    resumed = api_client.get(url, HTTP_RANGE="bytes=100-", HTTP_IF_RANGE=etag)
    assert resumed.status_code == 206
    assert body_of(resumed) == content[100:]

    stale = api_client.get(url, HTTP_RANGE="bytes=100-", HTTP_IF_RANGE='"0123456789abcdef"')
    assert stale.status_code == 200
    assert body_of(stale) == content


def test_an_unverified_s3_location_is_relayed_even_with_nginx_offload(
    api_client, s3_file, settings
):
    # nginx cannot sign S3 requests: DOWNLOAD_OFFLOAD=nginx leaves s3 locations relayed.
    settings.DOWNLOAD_OFFLOAD = "nginx"
    data_file = s3_file(b"not for nginx\n", location="s3-unverified")
    response = api_client.get(download_url(data_file))
    assert "X-Accel-Redirect" not in response
    assert body_of(response) == b"not for nginx\n"
    assert DownloadRecord.objects.get().outcome == Outcome.COMPLETED


def test_head_of_an_s3_file_takes_nothing(api_client, s3_file):
    data_file = s3_file(b"s3 bytes\n")
    response = api_client.head(download_url(data_file))
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(b"s3 bytes\n"))
    assert_nothing_consumed()


def test_a_digest_mismatch_cuts_the_body_short_and_is_logged(api_client, s3_file, caplog):
    content = os.urandom(3 * MIB)
    corrupt = bytearray(content)
    corrupt[-1] ^= 0xFF  # same size, one bit flipped in the last chunk
    data_file = s3_file(content, stored=bytes(corrupt))

    with caplog.at_level(logging.ERROR, logger="downloads.transfers"):
        response = api_client.get(download_url(data_file))
        assert response.status_code == 200
        received = read_until_failure(response)

    assert len(received) < len(content)
    assert content.startswith(received)
    record = DownloadRecord.objects.get()
    assert (record.outcome, record.bytes_sent) == (Outcome.CORRUPT, len(received))
    assert any("digest mismatch" in message for message in caplog.messages)


def test_a_digest_mismatch_in_a_one_chunk_file_is_502_and_costs_nothing(private_s3_file):
    data_file, client, quota = private_s3_file(b"catalog bytes\n", stored=b"CATALOG BYTES\n")
    assert_api_error(client.get(download_url(data_file)), 502, "storage_corrupt")
    quota.refresh_from_db()
    assert (quota.current_quota, quota.current_volume) == (0, 0)
    assert DownloadRecord.objects.get().outcome == Outcome.CORRUPT


# Errors before the first byte: 502, nothing counted.


def assert_refused_and_free(response, quota, code):
    assert_api_error(response, 502, code)
    quota.refresh_from_db()
    assert (quota.current_quota, quota.current_volume) == (0, 0)
    record = DownloadRecord.objects.get()
    assert (record.outcome, record.status_code, record.bytes_sent) == (
        Outcome.STORAGE_ERROR,
        502,
        0,
    )


@pytest.mark.parametrize("location", ["s3", "s3-redirect"])
def test_a_missing_object_is_502_storage_file_missing(private_s3_file, s3_server, location):
    data_file, client, quota = private_s3_file(b"gone\n", location=location)
    s3_server.client.delete_object(Bucket=BUCKET, Key="online/" + data_file.storage_key)
    response = client.get(download_url(data_file))
    assert_refused_and_free(response, quota, "storage_file_missing")


@pytest.mark.parametrize("location", ["s3", "s3-redirect"])
def test_refused_credentials_are_502_storage_unavailable(private_s3_file, s3_server, location):
    data_file, client, quota = private_s3_file(b"locked\n", location=location)
    s3_server.refuse_unknown_credentials()
    response = client.get(download_url(data_file))
    assert_refused_and_free(response, quota, "storage_unavailable")


@pytest.mark.parametrize("location", ["s3", "s3-redirect"])
def test_a_stopped_s3_server_is_502_storage_unavailable(private_s3_file, s3_server, location):
    data_file, client, quota = private_s3_file(os.urandom(4096), location=location)
    s3_server.stop()
    response = client.get(download_url(data_file))
    assert_refused_and_free(response, quota, "storage_unavailable")
    assert "127.0.0.1" not in response.content.decode()  # the endpoint is not leaked


def test_head_with_the_s3_server_stopped_is_502(api_client, s3_file, s3_server):
    data_file = s3_file(b"somewhere\n")
    s3_server.stop()
    response = api_client.head(download_url(data_file))
    assert response.status_code == 502
    assert_nothing_consumed()


# Redirected to a presigned URL


def test_a_redirect_location_answers_303_to_a_presigned_url_counted_once(private_s3_file, settings):
    settings.S3_PRESIGN_SECONDS = 120
    content = os.urandom(MIB + 3)
    data_file, client, quota = private_s3_file(content, location="s3-redirect", filename="a b.bin")

    response = client.get(download_url(data_file))

    assert response.status_code == 303
    assert response["Cache-Control"] == "private, no-store"
    location = response["Location"]
    assert "X-Amz-Expires=120" in location
    quota.refresh_from_db()
    assert (quota.current_quota, quota.current_volume) == (1, len(content))
    record = DownloadRecord.objects.get()
    assert (record.outcome, record.status_code) == (Outcome.REDIRECTED, 303)
    assert (record.bytes_expected, record.lease_expires) == (len(content), None)

    fetched = requests.get(location, timeout=DEADLINE)
    assert fetched.status_code == 200
    assert fetched.content == content
    assert fetched.headers["Content-Disposition"] == (
        "attachment; filename=\"a b.bin\"; filename*=UTF-8''a%20b.bin"
    )
    assert fetched.headers["Content-Type"] == "application/octet-stream"


def test_head_of_a_redirect_location_gives_no_url(api_client, s3_file):
    # A presigned URL is a download nobody counted: only a GET, once counted, gets one.
    data_file = s3_file(b"s3 bytes\n", location="s3-redirect")
    response = api_client.head(download_url(data_file))
    assert response.status_code == 200
    assert "Location" not in response
    assert_nothing_consumed()


@pytest.mark.django_db(transaction=True)  # the live server reads what the test wrote
def test_curl_follows_the_redirect_and_gets_the_file(live_server, private_s3_file, tmp_path):
    curl = external("curl")
    content = os.urandom(2 * MIB + 11)
    data_file, client, quota = private_s3_file(content, location="s3-redirect")
    token = client._credentials["HTTP_AUTHORIZATION"]
    output = tmp_path / "out.bin"

    fetched = subprocess.run(
        [curl, "-sS", "-f", "-L", "-o", output, "-H", f"Authorization: {token}"]
        + [live_server.url + download_url(data_file)],
        capture_output=True,
        timeout=DEADLINE,
    )

    assert fetched.returncode == 0, fetched.stderr
    assert hashlib.md5(output.read_bytes()).hexdigest() == data_file.checksum
    assert DownloadRecord.objects.get().outcome == Outcome.REDIRECTED
    quota = Quota.objects.get(pk=quota.pk)
    assert (quota.current_quota, quota.current_volume) == (1, len(content))


# Restored from Glacier


@pytest.mark.django_db(transaction=True)  # process_restores closes stale connections
def test_a_glacier_file_is_restored_by_the_worker_and_then_downloads(
    api_client, s3_file, s3_server, settings
):
    settings.RESTORE_POLL_SECONDS = 0
    content = b"bytes kept in glacier\n" * 100
    data_file = s3_file(content, location="glacier", storage_class="GLACIER")
    s3_server.restores_take(polls=3)
    url = download_url(data_file)

    assert_api_error(api_client.get(url), 409, "restore_required")
    asked = api_client.post(RESTORE, {"product_ids": [data_file.product.urn]}, format="json")
    assert asked.json()["products"][0]["files"][0]["status"] == "PENDING"

    output = run_command("process_restores", "--once")
    assert f"still restoring {data_file.filename}" in output  # S3 restores in the background
    assert "0 restored, 0 failed. 1 still restoring in their storage." in output
    restore = RestoreRequest.objects.get()
    assert (restore.status, restore.attempts) == (RestoreRequest.Status.RUNNING, 1)
    assert_api_error(api_client.get(url), 503, "restore_pending")

    def restored():
        run_command("process_restores", "--once")
        return RestoreRequest.objects.get().status == RestoreRequest.Status.DONE

    wait_until(restored, message="the worker to find the restore done")
    assert RestoreRequest.objects.get().attempts == 1  # asked S3 once, then only polled

    head = s3_server.client.head_object(Bucket=BUCKET, Key="tape/" + data_file.storage_key)
    expiry = parsedate_to_datetime(head["Restore"].split('expiry-date="')[1].rstrip('"'))
    availability = api_client.get(f"/api/v1/rs-catalog/availability/files/{data_file.product.urn}")
    [file] = availability.json()["files"]
    assert file["available"] is True
    assert datetime.fromisoformat(file["expiration_date"].replace("Z", "+00:00")) == expiry

    response = api_client.get(url)
    assert response.status_code == 200
    assert body_of(response) == content


@pytest.mark.parametrize("poll_seconds", [0, 60])
def test_a_due_poll_is_claimed_by_one_worker_once_per_pass(s3_file, settings, poll_seconds):
    settings.RESTORE_POLL_SECONDS = poll_seconds
    data_file = s3_file(b"cold\n", location="glacier", storage_class="GLACIER")
    RestoreRequest.objects.create(
        data_file=data_file, status=RestoreRequest.Status.RUNNING, next_poll=timezone.now()
    )
    now = timezone.now()
    assert services.restore_poll_claim(now=now).data_file == data_file
    # Another worker, or the same --once pass, finds nothing due until the next poll.
    assert services.restore_poll_claim(now=now) is None
    assert RestoreRequest.objects.get().next_poll > now


@pytest.mark.django_db(transaction=True)
def test_a_restore_of_a_missing_glacier_object_fails(api_client, s3_file, s3_server):
    data_file = s3_file(b"lost\n", location="glacier", storage_class="GLACIER")
    s3_server.client.delete_object(Bucket=BUCKET, Key="tape/" + data_file.storage_key)
    api_client.post(RESTORE, {"product_ids": [data_file.product.urn]}, format="json")
    assert "0 restored, 1 failed." in run_command("process_restores", "--once")
    restore = RestoreRequest.objects.get()
    assert restore.status == RestoreRequest.Status.FAILED
    assert "no object" in restore.error


# The start-up check


def test_manage_py_check_names_an_s3_location_whose_credentials_are_refused(s3_locations):
    call_command("check")  # accepted
    s3_locations.refuse_unknown_credentials()
    with pytest.raises(SystemCheckError, match="location 's3-redirect'"):
        call_command("check")


def test_manage_py_check_only_warns_of_an_unreachable_s3_server(s3_locations, capsys):
    s3_locations.stop()
    call_command("check")
    assert "storage.W001" in capsys.readouterr().err
