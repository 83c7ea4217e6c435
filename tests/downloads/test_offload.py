"""DOWNLOAD_OFFLOAD=nginx: Django decides, nginx sends local files (X-Accel-Redirect)."""

import hashlib

import pytest
import requests

from downloads.models import DownloadRecord
from tests.helpers import assert_api_error, download_url
from tests.nginx import NginxServer


@pytest.fixture
def offload(settings):
    settings.DOWNLOAD_OFFLOAD = "nginx"


@pytest.mark.django_db
def test_an_offloaded_download_names_the_internal_location_and_keeps_the_headers(
    offload, stored_file, api_client
):
    data_file = stored_file(b"0123456789", filename="scene one.txt", mime_type="text/plain")

    response = api_client.get(download_url(data_file))

    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/_storage/online/{data_file.checksum}"
    assert response["Content-Type"] == "text/plain"
    assert response["ETag"] == f'"{data_file.checksum}"'
    assert response["Cache-Control"] == "private"
    assert "filename*=UTF-8''scene%20one.txt" in response["Content-Disposition"]
    assert response.content == b""  # nginx sends the bytes
    record = DownloadRecord.objects.get()
    assert (record.outcome, record.bytes_sent) == (DownloadRecord.Outcome.OFFLOADED, 10)


@pytest.mark.django_db
def test_an_offloaded_range_is_left_to_nginx(offload, stored_file, api_client):
    data_file = stored_file(b"0123456789")

    response = api_client.get(download_url(data_file), HTTP_RANGE="bytes=2-4")

    assert response.status_code == 200
    assert "Content-Range" not in response
    assert response["X-Accel-Redirect"] == f"/_storage/online/{data_file.checksum}"


@pytest.mark.django_db
def test_a_restored_nearline_file_is_offloaded_from_the_cache(offload, stored_file, api_client):
    data_file = stored_file(b"from tape", location="nearline", cached=True)

    response = api_client.get(download_url(data_file))

    assert response["X-Accel-Redirect"] == f"/_storage/nearline-cache/{data_file.checksum}"


@pytest.mark.django_db
def test_refusals_are_never_offloaded(offload, stored_file, api_client):
    data_file = stored_file(b"secret", file_access="NO_ACCESS")

    response = api_client.get(download_url(data_file))

    assert response.status_code == 403
    assert "X-Accel-Redirect" not in response


@pytest.fixture
def nginx_in_front(live_server, storage, nginx_binary, tmp_path):
    """nginx proxying to the live server, with the internal locations of the README."""
    extra_config = f"""
        location /_storage/online/ {{
            internal; alias {storage.root}/online/;
            etag off; add_header ETag $upstream_http_etag;
            add_header X-Content-Type-Options $upstream_http_x_content_type_options;
            add_header Content-Security-Policy $upstream_http_content_security_policy;
        }}
        location / {{ proxy_pass {live_server.url}; proxy_buffering off; }}
"""
    (storage.root / "online").mkdir(parents=True, exist_ok=True)
    with NginxServer(nginx_binary, tmp_path, extra_config, workdir=tmp_path / "nginx") as server:
        yield server


@pytest.mark.django_db(transaction=True)
def test_nginx_sends_the_offloaded_file_with_django_headers(offload, stored_file, nginx_in_front):
    content = bytes(range(256)) * 4096  # 1 MiB
    data_file = stored_file(content, filename="scene.bin")
    url = nginx_in_front.url + download_url(data_file)

    whole = requests.get(url, timeout=30)
    part = requests.get(url, headers={"Range": "bytes=1000-1999"}, timeout=30)

    assert whole.status_code == 200
    assert hashlib.md5(whole.content).hexdigest() == data_file.checksum
    assert whole.headers["ETag"] == f'"{data_file.checksum}"'
    assert whole.headers["Cache-Control"] == "private"
    assert whole.headers["X-Content-Type-Options"] == "nosniff"
    assert whole.headers["Content-Security-Policy"] == "sandbox"
    assert whole.headers["Content-Disposition"].startswith('attachment; filename="scene.bin"')
    assert "X-Accel-Redirect" not in whole.headers
    assert part.status_code == 206
    assert part.content == content[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(content)}"
    resumed = requests.get(
        url, headers={"Range": "bytes=10-", "If-Range": f'"{data_file.checksum}"'}, timeout=30
    )
    assert (resumed.status_code, resumed.content) == (206, content[10:])


@pytest.mark.django_db(transaction=True)
def test_nginx_passes_refusals_through(offload, stored_file, nginx_in_front):
    data_file = stored_file(b"secret", file_access="NO_ACCESS")

    response = requests.get(nginx_in_front.url + download_url(data_file), timeout=30)

    assert_api_error(response, 403, "forbidden")
