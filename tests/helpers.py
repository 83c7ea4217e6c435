"""Plain helpers shared by test modules (fixtures live in the conftest.py files)."""

import contextlib
import hashlib
import io
import json
import os
import shutil
import socket
import struct
import threading
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.management import call_command
from django.db import connection
from django.db.models import Q

from downloads.models import DownloadRecord, Quota
from tests.processes import DEADLINE


def external(name):
    """Path of a command-line client; skips without it, unless REQUIRE_EXTERNALS=1."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("REQUIRE_EXTERNALS") == "1":
            pytest.fail(f"{name} not installed, and REQUIRE_EXTERNALS=1 forbids skipping")
        pytest.skip(f"{name} not installed")
    return path


def assert_api_error(response, status, code, **expected_fields):
    """Check an API error answer (status, JSON, `code`, a human `message`, any fields given)
    and return its body; works for the test client's responses and for `requests`'."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response.headers["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert body.get("code") == code, body
    assert isinstance(body.get("message"), str) and body["message"], body
    assert body.get("messages") == [body["message"]], body  # REGARDS's list of messages
    for name, value in expected_fields.items():
        assert body.get(name) == value, (name, body)
    return body


def download_url(data_file, **params):
    url = f"/api/v1/rs-catalog/downloads/{data_file.product.urn}/files/{data_file.checksum}"
    if params:
        url += "?" + "&".join(f"{name}={value}" for name, value in params.items())
    return url


def body_of(response):
    """The whole body of a response; the test client closes a streaming response (and so
    writes its DownloadRecord) once its content has been read to the end."""
    return b"".join(response.streaming_content) if response.streaming else response.content


def md5(content):
    return hashlib.md5(content).hexdigest()


def use_locations(settings, storage, tmp_path, remote_url, *, timeout=30, **remote_fields):
    """Point STORAGE_CONFIG at a file naming `online` (local, in `storage`) and `remote`
    (http, at `remote_url`, a URL template holding `{key}`, with `remote_fields` such as
    `verify=False`)."""
    config = {
        "locations": {
            "online": {"backend": "local", "root": str(storage.root / "online"), "tier": "online"},
            "remote": {
                "backend": "http",
                "url": remote_url,
                "tier": "online",
                "timeout": timeout,
                "connect_timeout": 10,
                "retries": 1,
                **remote_fields,
            },
        }
    }
    path = tmp_path / "storage.json"
    path.write_text(json.dumps(config))
    settings.STORAGE_CONFIG = str(path)


def run_command(name, *args):
    """Run a management command for real and return what it printed."""
    out = io.StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


def assert_head_answers_as_get(head, got, status, code):
    """A HEAD error has no body; its status, type and length are those of GET's error."""
    assert_api_error(got, status, code)
    assert (head.status_code, head.content) == (status, b"")
    assert head["Content-Type"] == got["Content-Type"]
    assert head["Content-Length"] == str(len(got.content))


def head_then_get(client, data_file):
    """HEAD, checked to have taken nothing (no record, no quota, no slot), then GET."""
    head = client.head(download_url(data_file))
    assert head.content == b""
    assert_nothing_consumed()
    return head, client.get(download_url(data_file))


def finished_records():
    """Download records whose response has closed (a record is written IN_PROGRESS when
    its download begins, and completed when the response closes)."""
    return DownloadRecord.objects.exclude(outcome=DownloadRecord.Outcome.IN_PROGRESS)


def running_downloads():
    """Downloads holding a slot: records with a lease, expired or not."""
    return DownloadRecord.objects.filter(lease_expires__isnull=False)


def assert_nothing_consumed():
    assert not DownloadRecord.objects.exists()
    assert not running_downloads().exists()
    assert not Quota.objects.filter(Q(current_quota__gt=0) | Q(current_volume__gt=0)).exists()


# The headers every download answer carries (SPEC §4), HEAD included.
DOWNLOAD_HEADERS = (
    "Content-Type",
    "Content-Length",
    "Content-Disposition",
    "ETag",
    "Accept-Ranges",
    "Cache-Control",
    "X-Content-Type-Options",
    "Content-Security-Policy",
)


def in_threads(count, work):
    """Run work(index) in `count` threads released together; each closes its own connection.
    Returns their results, or raises the first error one of them met."""
    start = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(index):
        try:
            start.wait(DEADLINE)
            results[index] = work(index)
        except BaseException as error:  # reported in the test's thread below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    if errors:
        raise errors[0]
    return results


def parallel_gets(url, *, headers, count):
    """`count` GETs of `url` sent at once; [(status, error code, or body when not JSON)]."""

    def fetch(_):
        response = requests.get(url, headers=headers, timeout=DEADLINE)
        if response.headers.get("Content-Type", "").startswith("application/json"):
            return response.status_code, response.json()["code"]
        return response.status_code, response.content

    return in_threads(count, fetch)


class CountingPasswordHasher(MD5PasswordHasher):
    """The tests' MD5 hasher (same algorithm name), remembering every password it hashes, in
    checks and in new hashes alike: whether a password was checked, without timing it."""

    hashed = []  # list.append is atomic: concurrent logins are all counted

    def encode(self, password, salt):
        self.hashed.append(password)
        return super().encode(password, salt)


# Clients that misbehave


def stalled_client(url, path, headers=()):
    """A connection that sends a GET, reads the start of the answer, then reads no more.
    Its small receive window makes the server's send block soon after."""
    address = urlsplit(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.connect((address.hostname, address.port))
    sock.settimeout(DEADLINE)
    lines = [f"GET {path} HTTP/1.1", f"Host: {address.netloc}", *headers, "", ""]
    sock.sendall("\r\n".join(lines).encode())
    assert sock.recv(1024).startswith(b"HTTP/1.1 200")
    return sock


def reset(sock):
    """Close with a reset, as a killed client does."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
