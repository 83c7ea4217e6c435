"""Downloads over a real socket (pytest-django's live server): what the record says when
the client goes away, and when it reads to the end."""

import os
import socket
import struct
from urllib.parse import urlsplit

import pytest
import requests

from downloads.models import DownloadRecord
from tests.helpers import download_url, finished_records
from tests.processes import DEADLINE, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

Outcome = DownloadRecord.Outcome
SIZE = 8 * 1024 * 1024 + 11


def wait_for_record():
    """The one DownloadRecord, once the server has written it (when the response closed)."""
    return wait_until(finished_records().first, message="a finished DownloadRecord")


def read_part_then_hang_up(live_server, path, nbytes):
    """GET `path` over a raw socket, read `nbytes` of the answer, then reset the connection."""
    address = urlsplit(live_server.url)
    sock = socket.socket()
    # A small receive window, so the server cannot push the whole file into kernel buffers
    # before we hang up.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.connect((address.hostname, address.port))
    sock.settimeout(DEADLINE)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {address.netloc}\r\n\r\n".encode())
    received = b""
    while len(received) < nbytes:
        data = sock.recv(65536)
        assert data, "the server closed the connection first"
        received += data
    # Linger 0: close() sends a reset, as a killed client would.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    return received


@pytest.fixture
def big_file(stored_file):
    return stored_file(os.urandom(SIZE), filename="big.bin")


@pytest.fixture
def big_quicklook(stored_file):
    """A public file type: its record is written only when the response closes."""
    return stored_file(os.urandom(SIZE), filename="big.png", data_type="QUICKLOOK_HD")


@pytest.fixture
def big_remote_file(stored_file, remote_nginx):
    return stored_file(os.urandom(SIZE), location="remote", filename="big.bin")


@pytest.mark.parametrize("data_file", ["big_file", "big_remote_file", "big_quicklook"])
def test_a_client_that_hangs_up_leaves_an_aborted_record(live_server, request, data_file):
    data_file = request.getfixturevalue(data_file)
    # More than one 1 MiB chunk: a chunk whose write fails midway may not be counted.
    received = read_part_then_hang_up(live_server, download_url(data_file), 1280 * 1024)
    assert received.startswith(b"HTTP/1.1 200")

    record = wait_for_record()
    assert record.outcome == Outcome.ABORTED
    assert 0 < record.bytes_sent < SIZE
    assert record.bytes_expected == SIZE
    assert record.ended is not None


@pytest.mark.parametrize("data_file", ["big_file", "big_remote_file", "big_quicklook"])
def test_a_complete_download_leaves_a_completed_record(live_server, request, data_file):
    data_file = request.getfixturevalue(data_file)
    response = requests.get(live_server.url + download_url(data_file), timeout=30)
    assert response.status_code == 200
    assert len(response.content) == SIZE
    assert response.headers["Content-Length"] == str(SIZE)

    record = wait_for_record()
    assert record.outcome == Outcome.COMPLETED
    assert record.bytes_sent == SIZE
    assert record.client_address == "127.0.0.1"


def test_a_range_over_the_wire_is_206_with_those_bytes(live_server, stored_file):
    content = os.urandom(3 * 1024 * 1024)
    data_file = stored_file(content)
    response = requests.get(
        live_server.url + download_url(data_file),
        headers={"Range": "bytes=1048570-2097160"},
        timeout=30,
    )
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes 1048570-2097160/{len(content)}"
    assert response.content == content[1048570:2097161]
    record = wait_for_record()
    assert (record.range_start, record.bytes_sent) == (1048570, 2097161 - 1048570)
    assert record.outcome == Outcome.COMPLETED
