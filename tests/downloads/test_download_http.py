"""Downloads from an `http` storage location: a real nginx, and raw sockets for what nginx
cannot be made to do (truncate, stall)."""

import os
import socket
import threading
import time

import pytest

import storage_client
from downloads.models import DownloadRecord
from tests.factories import AccessGroupFactory, AccessRightFactory, QuotaFactory, UserFactory
from tests.helpers import (
    assert_api_error,
    assert_head_answers_as_get,
    body_of,
    download_url,
    head_then_get,
    md5,
    running_downloads,
    use_locations,
)
from tests.processes import DEADLINE
from tests.storage_client.test_http import _RawServer

pytestmark = pytest.mark.django_db

Outcome = DownloadRecord.Outcome
MIB = 1024 * 1024


def read_until_failure(response):
    """The bytes a client receives before the server breaks off the response."""
    received = bytearray()
    with pytest.raises(storage_client.StorageUnavailable):
        for chunk in response.streaming_content:
            received += chunk
    return bytes(received)


def test_a_remote_file_downloads_whole_and_is_recorded_as_completed(
    api_client, stored_file, remote_nginx
):
    content = os.urandom(3 * MIB + 17)
    data_file = stored_file(content, location="remote", filename="remote.bin")
    response = api_client.get(download_url(data_file))
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(content))
    assert response["ETag"] == f'"{md5(content)}"'
    assert response["Cache-Control"] == "private"
    assert response["Content-Disposition"].startswith('attachment; filename="remote.bin"')
    assert body_of(response) == content
    record = DownloadRecord.objects.get()
    assert record.outcome == Outcome.COMPLETED
    assert (record.bytes_expected, record.bytes_sent) == (len(content), len(content))
    assert record.ended is not None


def test_a_zero_byte_remote_file_downloads_empty(api_client, stored_file, remote_nginx):
    data_file = stored_file(b"", location="remote")
    response = api_client.get(download_url(data_file))
    assert response.status_code == 200
    assert response["Content-Length"] == "0"
    assert body_of(response) == b""
    assert DownloadRecord.objects.get().outcome == Outcome.COMPLETED


def test_a_range_is_forwarded_to_the_remote_server(api_client, stored_file, remote_nginx):
    content = os.urandom(2 * MIB)
    data_file = stored_file(content, location="remote")
    start, end = MIB - 10, MIB + 9
    response = api_client.get(download_url(data_file), HTTP_RANGE=f"bytes={start}-{end}")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(content)}"
    assert response["Content-Length"] == "20"
    assert body_of(response) == content[start : end + 1]
    # nginx was asked for the range, not for the whole file.
    log = remote_nginx.wait_for_access_log('" 206 20 ')
    assert not any('" 200 ' in line for line in log), log
    record = DownloadRecord.objects.get()
    assert (record.status_code, record.range_start, record.bytes_sent) == (206, start, 20)
    assert record.outcome == Outcome.COMPLETED


def test_head_of_a_remote_file_asks_the_remote_server_for_its_head_only(
    api_client, stored_file, remote_nginx
):
    data_file = stored_file(b"remote bytes\n", location="remote")
    response = api_client.head(download_url(data_file))
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(b"remote bytes\n"))
    assert response["ETag"] == f'"{data_file.checksum}"'
    (line,) = remote_nginx.wait_for_access_log('"HEAD ')
    assert '"HEAD ' in line
    assert not DownloadRecord.objects.exists()


@pytest.mark.parametrize(
    ("key", "code"),
    [(None, "storage_file_missing"), ("broken/file.bin", "storage_unavailable")],
    ids=["missing", "server-error"],
)
def test_head_of_a_remote_file_it_cannot_serve_is_502_as_get(
    client_for, stored_file, storage, remote_nginx, key, code
):
    data_file = stored_file(location="remote", **({"key": key} if key else {}))
    (storage.root / "remote" / data_file.storage_key).unlink(missing_ok=True)

    head, got = head_then_get(client_for(UserFactory()), data_file)

    assert_head_answers_as_get(head, got, 502, code)


def test_head_with_the_remote_server_stopped_is_502_storage_unavailable(
    api_client, stored_file, remote_nginx
):
    data_file = stored_file(location="remote")
    remote_nginx.stop()

    head, got = head_then_get(api_client, data_file)

    assert_head_answers_as_get(head, got, 502, "storage_unavailable")


def test_a_file_missing_on_the_remote_server_is_502_storage_file_missing(
    api_client, stored_file, storage, remote_nginx
):
    data_file = stored_file(location="remote")
    (storage.root / "remote" / data_file.storage_key).unlink()
    response = api_client.get(download_url(data_file))
    assert_api_error(response, 502, "storage_file_missing")
    record = DownloadRecord.objects.get()
    assert (record.outcome, record.bytes_sent) == (Outcome.STORAGE_ERROR, 0)


def test_a_remote_server_error_is_502_storage_unavailable(api_client, stored_file, remote_nginx):
    data_file = stored_file(location="remote", key="broken/file.bin")
    response = api_client.get(download_url(data_file))
    assert_api_error(response, 502, "storage_unavailable")
    assert DownloadRecord.objects.get().outcome == Outcome.STORAGE_ERROR


def test_a_stopped_remote_server_is_502_storage_unavailable_and_nothing_completes(
    api_client, stored_file, remote_nginx
):
    data_file = stored_file(os.urandom(4096), location="remote")
    remote_nginx.stop()
    response = api_client.get(download_url(data_file))
    assert_api_error(response, 502, "storage_unavailable")
    assert "127.0.0.1" not in response.content.decode()  # the storage URL is not leaked
    record = DownloadRecord.objects.get()
    assert (record.outcome, record.bytes_sent) == (Outcome.STORAGE_ERROR, 0)
    assert not DownloadRecord.objects.filter(outcome=Outcome.COMPLETED).exists()


def test_a_digest_mismatch_cuts_the_body_short_and_is_recorded_as_corrupt(
    api_client, stored_file, storage, remote_nginx
):
    content = os.urandom(3 * MIB)
    data_file = stored_file(content, location="remote")
    corrupt = bytearray(content)
    corrupt[-1] ^= 0xFF  # same size, one bit flipped in the last chunk
    (storage.root / "remote" / data_file.storage_key).write_bytes(bytes(corrupt))

    response = api_client.get(download_url(data_file))
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(content))
    received = read_until_failure(response)
    assert len(received) < len(content)
    assert content.startswith(received)
    record = DownloadRecord.objects.get()
    assert record.outcome == Outcome.CORRUPT
    assert record.bytes_sent == len(received)
    assert data_file.checksum in record.error


def digest_threads():
    return [thread for thread in threading.enumerate() if thread.name == "digest"]


def test_a_relayed_download_hashes_on_a_thread_that_ends_with_the_response(
    api_client, stored_file, remote_nginx
):
    content = os.urandom(5 * MIB + 3)  # more chunks than the hashing thread may queue
    data_file = stored_file(content, location="remote")

    response = api_client.get(download_url(data_file))
    chunks = iter(response.streaming_content)
    received = next(chunks)
    assert len(digest_threads()) == 1  # hashing the next chunks while this one goes out
    received += b"".join(chunks)

    assert received == content
    assert DownloadRecord.objects.get().outcome == Outcome.COMPLETED
    assert digest_threads() == []


@pytest.mark.django_db(transaction=True)  # closing the response closes the connection
def test_a_relayed_download_the_client_leaves_midway_stops_its_hashing_thread(
    api_client, stored_file, remote_nginx
):
    data_file = stored_file(os.urandom(5 * MIB), location="remote")

    response = api_client.get(download_url(data_file))
    next(iter(response.streaming_content))
    response.close()  # what the server does when the client hangs up

    assert digest_threads() == []
    record = DownloadRecord.objects.get()
    assert record.outcome == Outcome.ABORTED
    assert record.bytes_sent < 5 * MIB


def test_a_location_that_does_not_verify_relays_even_a_corrupt_file_whole(
    api_client, stored_file, storage, remote_nginx, settings, tmp_path
):
    # What "verify": false gives up: nothing compares the bytes with the catalog's digest.
    use_locations(settings, storage, tmp_path, remote_nginx.url + "/{key}", verify=False)
    content = os.urandom(3 * MIB)
    data_file = stored_file(content, location="remote")
    corrupt = bytearray(content)
    corrupt[-1] ^= 0xFF
    (storage.root / "remote" / data_file.storage_key).write_bytes(bytes(corrupt))

    response = api_client.get(download_url(data_file))
    chunks = iter(response.streaming_content)
    received = next(chunks)
    assert digest_threads() == []
    received += b"".join(chunks)

    assert received == bytes(corrupt)
    assert DownloadRecord.objects.get().outcome == Outcome.COMPLETED


@pytest.fixture
def private_remote_file(stored_file, client_for):
    """private_remote_file(content) → (a private file on the remote location, the client
    of a user allowed to download it, that user's quota: 5 downloads)."""

    def make(content):
        data_file = stored_file(content, location="remote", file_access="NO_ACCESS")
        user = UserFactory()
        group = AccessGroupFactory(members=[user])
        AccessRightFactory(group=group, dataset=data_file.product.dataset)
        return data_file, client_for(user), QuotaFactory(user=user, max_quota=5)

    return make


def assert_costs_nothing(quota):
    quota.refresh_from_db()
    assert (quota.current_quota, quota.current_volume) == (0, 0)
    assert not running_downloads().exists()


def test_a_digest_mismatch_in_a_one_chunk_file_is_502_before_any_byte_and_costs_nothing(
    private_remote_file, storage, remote_nginx
):
    data_file, client, quota = private_remote_file(b"the catalog's bytes\n")
    (storage.root / "remote" / data_file.storage_key).write_bytes(b"THE CATALOG'S BYTES\n")

    for _ in range(2):  # every try is refused, none is counted
        assert_api_error(client.get(download_url(data_file)), 502, "storage_corrupt")

    assert_costs_nothing(quota)
    records = DownloadRecord.objects.all()
    assert [(r.outcome, r.status_code, r.bytes_sent) for r in records] == [
        (Outcome.CORRUPT, 502, 0)
    ] * 2
    assert data_file.checksum in records[0].error


def test_a_range_of_a_remote_file_is_not_digest_checked(
    api_client, stored_file, storage, remote_nginx
):
    # A part of a file has no digest of its own to compare with.
    content = b"0123456789"
    data_file = stored_file(content, location="remote")
    (storage.root / "remote" / data_file.storage_key).write_bytes(b"0123456789"[::-1])
    response = api_client.get(download_url(data_file), HTTP_RANGE="bytes=0-3")
    assert body_of(response) == b"9876"
    assert DownloadRecord.objects.get().outcome == Outcome.COMPLETED


# Against raw sockets.


def test_a_truncated_remote_body_cuts_the_download_short(
    api_client, stored_file, settings, storage, tmp_path
):
    content = os.urandom(3 * MIB)
    data_file = stored_file(content, location="remote")
    header = f"HTTP/1.1 200 OK\r\nContent-Length: {len(content)}\r\n\r\n".encode()

    def answer(conn):
        conn.sendall(header + content[: 2 * MIB + MIB // 2])

    with _RawServer(answer) as server:
        use_locations(settings, storage, tmp_path, server.url + "/{key}")
        response = api_client.get(download_url(data_file))
        assert response.status_code == 200
        assert response["Content-Length"] == str(len(content))
        received = read_until_failure(response)
    assert len(received) < len(content)
    assert content.startswith(received)
    record = DownloadRecord.objects.get()
    assert record.outcome == Outcome.STORAGE_ERROR
    assert record.bytes_sent == len(received) < len(content)


def test_a_remote_server_that_stalls_mid_body_times_out(
    api_client, stored_file, settings, storage, tmp_path
):
    content = os.urandom(3 * MIB)
    data_file = stored_file(content, location="remote")
    header = f"HTTP/1.1 200 OK\r\nContent-Length: {len(content)}\r\n\r\n".encode()
    release = threading.Event()

    def answer(conn):
        # Two chunks: the first may go out once the second has come (the relay holds
        # back one chunk for the digest check).
        conn.sendall(header + content[: 2 * MIB + 100])
        release.wait(DEADLINE)

    with _RawServer(answer) as server:
        try:
            use_locations(settings, storage, tmp_path, server.url + "/{key}", timeout=0.5)
            started = time.monotonic()
            response = api_client.get(download_url(data_file))
            received = read_until_failure(response)
        finally:
            release.set()
    assert time.monotonic() - started < 5
    assert len(received) < len(content)
    assert DownloadRecord.objects.get().outcome == Outcome.STORAGE_ERROR


@pytest.mark.parametrize("sent", [0, 100, MIB + 100], ids=["headers-only", "100-bytes", "1-chunk"])
def test_a_remote_server_that_stalls_before_a_chunk_can_go_out_is_502_and_costs_nothing(
    private_remote_file, settings, storage, tmp_path, sent
):
    content = os.urandom(3 * MIB)
    data_file, client, quota = private_remote_file(content)
    header = f"HTTP/1.1 200 OK\r\nContent-Length: {len(content)}\r\n\r\n".encode()
    release = threading.Event()

    def answer(conn):
        conn.sendall(header + content[:sent])
        release.wait(DEADLINE)

    with _RawServer(answer) as server:
        try:
            use_locations(settings, storage, tmp_path, server.url + "/{key}", timeout=0.5)
            response = client.get(download_url(data_file))
        finally:
            release.set()

    assert_api_error(response, 502, "storage_unavailable")
    assert_costs_nothing(quota)
    record = DownloadRecord.objects.get()
    assert (record.outcome, record.status_code, record.bytes_sent) == (
        Outcome.STORAGE_ERROR,
        502,
        0,
    )


def test_a_remote_server_that_never_answers_is_502_within_the_timeout(
    api_client, stored_file, settings, storage, tmp_path
):
    data_file = stored_file(location="remote")
    with socket.socket() as listener:
        # Listening but never accepting: the handshake completes, nobody answers.
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/{{key}}"
        use_locations(settings, storage, tmp_path, url, timeout=0.5)
        started = time.monotonic()
        response = api_client.get(download_url(data_file))
    assert time.monotonic() - started < 5
    assert_api_error(response, 502, "storage_unavailable")
    assert DownloadRecord.objects.get().outcome == Outcome.STORAGE_ERROR


def test_a_remote_server_sending_the_wrong_length_is_502_before_any_byte(
    api_client, stored_file, settings, storage, tmp_path
):
    content = b"0123456789"
    data_file = stored_file(content, location="remote")

    def answer(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n01234")

    with _RawServer(answer) as server:
        use_locations(settings, storage, tmp_path, server.url + "/{key}")
        response = api_client.get(download_url(data_file))
    assert_api_error(response, 502, "storage_unavailable")
    assert DownloadRecord.objects.get().bytes_sent == 0
