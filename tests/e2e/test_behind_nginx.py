"""The README's nginx in front of a real gunicorn: anonymous downloads are counted per client
address (SPEC §3 Quotas), each client under its own address, whatever header it forges.

Linux's loopback accepts any 127.x.y.z as a source address, so the clients below connect
from 127.0.0.2, 127.0.0.3, … while nginx reaches gunicorn from 127.0.0.1."""

import http.client
import json
import pathlib
from urllib.parse import urlsplit

import pytest

from downloads.models import DownloadRecord, Quota, QuotaDefaults
from tests.helpers import download_url
from tests.nginx import NginxServer, documented_block
from tests.processes import DEADLINE, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONTENT = b"open data, counted per address\n"
CLIENTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]


def readme_proxy_location(upstream):
    """The `location / { … }` block of the README's nginx configuration, sent to `upstream`."""
    block = documented_block(ROOT / "README.md", "location / {")
    assert "proxy_pass http://127.0.0.1:8000;" in block
    return block.replace("http://127.0.0.1:8000", upstream)


@pytest.fixture(params=["$remote_addr", "$proxy_add_x_forwarded_for"])
def nginx(request, gunicorn, nginx_binary, tmp_path):
    """nginx with the README's proxy block in front of gunicorn; the README's
    X-Forwarded-For line, or the variant that appends to the client's header."""
    config = readme_proxy_location(gunicorn)
    readme_line = "proxy_set_header X-Forwarded-For $remote_addr;"
    assert readme_line in config
    config = config.replace(readme_line, f"proxy_set_header X-Forwarded-For {request.param};")
    with NginxServer(nginx_binary, tmp_path, config, workdir=tmp_path / "nginx") as server:
        yield server


@pytest.fixture
def public_private_file(stored_file):
    """A RAWDATA file anyone may download, so counted per address, with maxQuota=1."""
    QuotaDefaults.objects.update_or_create(pk=1, defaults={"max_quota": 1})
    return stored_file(CONTENT)


def get_from(source, url, headers=None):
    """GET `url` over a connection from the local address `source`: (status, JSON code or body)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=DEADLINE, source_address=(source, 0)
    )
    try:
        connection.request("GET", parts.path, headers=headers or {})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.getheader("Content-Type", "").startswith("application/json"):
        return response.status, json.loads(body)["code"]
    return response.status, body


def completed_downloads(count):
    """The client addresses of the completed downloads, once `count` records are written
    (a record is written when its response closes, after the client has the bytes)."""
    records = DownloadRecord.objects.filter(outcome="COMPLETED")
    wait_until(lambda: records.count() >= count, message=f"{count} completed downloads")
    return sorted(records.values_list("client_address", flat=True))


def anonymous_usage():
    """(address, downloads) of every anonymous quota row."""
    rows = Quota.objects.filter(user=None).order_by("client_address")
    return [(quota.client_address, quota.current_quota) for quota in rows]


def test_each_client_is_counted_under_its_own_address(nginx, public_private_file):
    url = nginx.url + download_url(public_private_file)

    answers = [get_from(client, url) for client in CLIENTS]
    again = get_from(CLIENTS[0], url)

    assert answers == [(200, CONTENT)] * len(CLIENTS)
    assert again == (429, "quota_exceeded")  # its own quota, not one shared by everyone
    assert anonymous_usage() == [(client, 1) for client in CLIENTS]
    assert completed_downloads(len(CLIENTS)) == CLIENTS


def test_a_forged_x_forwarded_for_is_not_believed(nginx, public_private_file):
    url = nginx.url + download_url(public_private_file)

    stranger = get_from("127.0.0.5", url, {"X-Forwarded-For": "10.9.9.9"})
    impostor = get_from("127.0.0.6", url, {"X-Forwarded-For": "127.0.0.2"})

    assert stranger == impostor == (200, CONTENT)
    assert completed_downloads(2) == ["127.0.0.5", "127.0.0.6"]
    assert anonymous_usage() == [("127.0.0.5", 1), ("127.0.0.6", 1)]
