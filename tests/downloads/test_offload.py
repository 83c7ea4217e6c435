"""DOWNLOAD_OFFLOAD=nginx: Django decides, nginx sends local files (X-Accel-Redirect)."""

import hashlib

import pytest
import requests

from downloads.models import DownloadRecord
from tests.factories import QuotaFactory, UserFactory
from tests.helpers import assert_api_error, download_url, use_locations
from tests.nginx import NginxServer

Outcome = DownloadRecord.Outcome
STORAGE_TOKEN = "Bearer storage-secret"


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
            add_header X-Frame-Options $upstream_http_x_frame_options;
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
    assert whole.headers["X-Frame-Options"] == "DENY"
    assert whole.headers["Content-Disposition"].startswith('attachment; filename="scene.bin"')
    assert "X-Accel-Redirect" not in whole.headers
    inline = requests.get(url + "?isContentInline=true", timeout=30)
    assert inline.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert inline.headers["Content-Security-Policy"] == "sandbox; frame-ancestors 'self'"
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


# Files of an http location that does not verify digests ("verify": false).


@pytest.fixture
def unchecked_storage(storage, nginx_binary, settings, tmp_path):
    """A real nginx as the `remote` http location ("verify": false), serving the folder that
    `stored_file(location="remote")` writes to, to requests bearing the storage's token."""
    root = storage.root / "remote"
    root.mkdir(parents=True)
    extra_config = f"""
        if ($http_authorization != "{STORAGE_TOKEN}") {{ return 403; }}
        location /failing/ {{ if ($request_method = GET) {{ return 503; }} }}
"""
    with NginxServer(nginx_binary, root, extra_config, workdir=tmp_path / "storage") as server:
        use_locations(
            settings,
            storage,
            tmp_path,
            server.url + "/{key}",
            verify=False,
            headers={"Authorization": STORAGE_TOKEN},
        )
        yield server


@pytest.mark.django_db
def test_an_unchecked_remote_file_is_offloaded_with_the_range_django_chose(
    offload, stored_file, unchecked_storage, api_client
):
    data_file = stored_file(b"0123456789", location="remote", key="scenes/one 100%.bin")
    url = download_url(data_file)
    internal = "/_storage/remote/scenes/one%2520100%2525.bin"

    whole = api_client.get(url)
    part = api_client.get(url, HTTP_RANGE="bytes=2-4")
    resumed = api_client.get(url, HTTP_RANGE="bytes=2-", HTTP_IF_RANGE=f'"{data_file.checksum}"')
    changed = api_client.get(url, HTTP_RANGE="bytes=2-", HTTP_IF_RANGE='"another-file"')

    assert (whole.status_code, whole.content) == (200, b"")
    assert whole["X-Accel-Redirect"] == internal
    assert part["X-Accel-Redirect"] == internal + "?range=bytes=2-4"
    assert resumed["X-Accel-Redirect"] == internal + "?range=bytes=2-9"
    assert changed["X-Accel-Redirect"] == internal  # the file changed: all of it
    assert whole["ETag"] == f'"{data_file.checksum}"'
    records = DownloadRecord.objects.order_by("id")
    assert [(r.outcome, r.bytes_sent) for r in records] == [
        (Outcome.OFFLOADED, 10),
        (Outcome.OFFLOADED, 3),
        (Outcome.OFFLOADED, 8),
        (Outcome.OFFLOADED, 10),
    ]


@pytest.mark.django_db
def test_a_checked_remote_file_is_relayed_even_with_offload(
    offload, stored_file, remote_nginx, api_client
):
    # nginx cannot check a digest: a location that checks them keeps relaying.
    data_file = stored_file(b"0123456789", location="remote")

    response = api_client.get(download_url(data_file))

    assert "X-Accel-Redirect" not in response
    assert b"".join(response.streaming_content) == b"0123456789"
    assert DownloadRecord.objects.get().outcome == Outcome.COMPLETED


@pytest.mark.django_db
def test_an_unchecked_remote_file_the_storage_lacks_is_502_before_offload_and_costs_nothing(
    offload, stored_file, storage, unchecked_storage, client_for
):
    data_file = stored_file(b"0123456789", location="remote")
    (storage.root / "remote" / data_file.storage_key).unlink()
    user = UserFactory()
    quota = QuotaFactory(user=user, max_quota=5)

    response = client_for(user).get(download_url(data_file))

    assert_api_error(response, 502, "storage_file_missing")
    assert "X-Accel-Redirect" not in response
    quota.refresh_from_db()
    assert (quota.current_quota, quota.current_volume) == (0, 0)
    assert DownloadRecord.objects.get().outcome == Outcome.STORAGE_ERROR


def remote_internal_location(storage_url):
    """The README's internal location for the http location `remote` (storage_url: its
    `url` without `/{key}`)."""
    return f"""
        location ~ ^/_storage/remote/(.*)$ {{
            internal;
            set $file_etag $upstream_http_etag;
            set $file_nosniff $upstream_http_x_content_type_options;
            set $file_csp $upstream_http_content_security_policy;
            set $file_framing $upstream_http_x_frame_options;
            proxy_pass {storage_url}/$1;
            proxy_pass_request_headers off;
            proxy_set_header Range $arg_range;
            proxy_set_header Authorization "{STORAGE_TOKEN}";
            proxy_buffers 4 1m;
            proxy_max_temp_file_size 0;
            proxy_intercept_errors on;
            error_page 400 401 403 404 410 416 500 502 503 504 =502 @storage_failed;
            proxy_hide_header Content-Type;
            proxy_hide_header Content-Disposition;
            proxy_hide_header Cache-Control;
            proxy_hide_header Expires;
            proxy_hide_header ETag;
            proxy_hide_header Last-Modified;
            proxy_hide_header Accept-Ranges;
            proxy_hide_header Set-Cookie;
            add_header ETag $file_etag;
            add_header X-Content-Type-Options $file_nosniff;
            add_header Content-Security-Policy $file_csp;
            add_header X-Frame-Options $file_framing;
        }}
        location @storage_failed {{
            default_type application/json;
            return 502 '{{"code": "storage_unavailable", "message": "The storage failed.",
                          "messages": ["The storage failed."]}}';
        }}
"""


@pytest.fixture
def nginx_in_front_of_remote(live_server, unchecked_storage, nginx_binary, tmp_path):
    """nginx proxying to the live server, sending the `remote` location's files itself."""
    extra_config = remote_internal_location(unchecked_storage.url) + (
        f"        location / {{ proxy_pass {live_server.url}; proxy_buffering off; }}\n"
    )
    with NginxServer(nginx_binary, tmp_path, extra_config, workdir=tmp_path / "front") as server:
        yield server


@pytest.mark.django_db(transaction=True)
def test_nginx_sends_an_unchecked_remote_file_with_django_headers(
    offload, stored_file, nginx_in_front_of_remote
):
    content = bytes(range(256)) * 4096 + b"tail"  # 1 MiB and a bit
    data_file = stored_file(
        content,
        location="remote",
        key="scenes/one 100%.bin",
        filename="scene.xml",
        mime_type="application/xml",
    )
    url = nginx_in_front_of_remote.url + download_url(data_file)

    whole = requests.get(url, timeout=30)
    part = requests.get(url, headers={"Range": "bytes=1000-1999"}, timeout=30)
    resumed = requests.get(
        url, headers={"Range": "bytes=10-", "If-Range": f'"{data_file.checksum}"'}, timeout=30
    )
    changed = requests.get(url, headers={"Range": "bytes=10-", "If-Range": '"x"'}, timeout=30)

    assert whole.status_code == 200, nginx_in_front_of_remote.logs()
    assert hashlib.md5(whole.content).hexdigest() == data_file.checksum
    assert whole.headers["Content-Length"] == str(len(content))
    assert whole.headers["Content-Type"] == "application/xml"
    assert whole.headers["Content-Disposition"].startswith('attachment; filename="scene.xml"')
    assert whole.headers["ETag"] == f'"{data_file.checksum}"'
    assert whole.headers["Cache-Control"] == "private"
    assert whole.headers["X-Content-Type-Options"] == "nosniff"
    assert whole.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert whole.headers["X-Frame-Options"] == "DENY"
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert "Last-Modified" not in whole.headers
    assert "X-Accel-Redirect" not in whole.headers
    assert (part.status_code, part.content) == (206, content[1000:2000])
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(content)}"
    assert part.headers["ETag"] == f'"{data_file.checksum}"'
    assert (resumed.status_code, resumed.content) == (206, content[10:])
    assert (changed.status_code, changed.content) == (200, content)
    records = DownloadRecord.objects.order_by("id")
    assert [(r.outcome, r.status_code, r.bytes_sent) for r in records] == [
        (Outcome.OFFLOADED, 200, len(content)),
        (Outcome.OFFLOADED, 206, 1000),
        (Outcome.OFFLOADED, 206, len(content) - 10),
        (Outcome.OFFLOADED, 200, len(content)),
    ]


@pytest.mark.django_db(transaction=True)
def test_nginx_passes_refusals_of_remote_files_through(
    offload, stored_file, storage, nginx_in_front_of_remote
):
    secret = stored_file(b"secret", location="remote", file_access="NO_ACCESS")
    missing = stored_file(b"gone", location="remote")
    (storage.root / "remote" / missing.storage_key).unlink()

    forbidden = requests.get(nginx_in_front_of_remote.url + download_url(secret), timeout=30)
    lost = requests.get(nginx_in_front_of_remote.url + download_url(missing), timeout=30)

    assert_api_error(forbidden, 403, "forbidden")
    assert_api_error(lost, 502, "storage_file_missing")
    assert DownloadRecord.objects.get().outcome == Outcome.STORAGE_ERROR


@pytest.mark.django_db(transaction=True)
def test_a_storage_failing_after_the_hand_over_is_a_json_502_from_nginx(
    offload, stored_file, nginx_in_front_of_remote
):
    # The storage answers Django's HEAD, then fails nginx's GET: too late to cost nothing.
    data_file = stored_file(b"0123456789", location="remote", key="failing/file.bin")

    response = requests.get(nginx_in_front_of_remote.url + download_url(data_file), timeout=30)

    assert_api_error(response, 502, "storage_unavailable")
    assert DownloadRecord.objects.get().outcome == Outcome.OFFLOADED
