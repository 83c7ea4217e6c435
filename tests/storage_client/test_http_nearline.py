"""Nearline http locations: a remote storage that stages files from tape into its cache.

nginx serves the cache folder (real Range handling); a small Python server plays the
storage's restore and evict endpoints, which nginx cannot (POST on static files).
"""

import http.server
import pathlib
import threading
import time
from urllib.parse import unquote

import pytest

from storage_client import HttpLocation, InvalidKey, StorageFileNotFound, StorageUnavailable
from tests.nginx import NginxServer

DATA = bytes(range(256)) * 40  # 10240 bytes, every offset distinguishable
TAPE = {"p1/data.bin": DATA, "p1/é and space.bin": b"tricky", "fail.bin": b"never staged"}
TOKEN = "Bearer s3cret"

# The cache answers only with the token, so every read test also shows the headers are sent.
EXTRA_CONFIG = f"""
        location /cache/ {{
            if ($http_authorization != "{TOKEN}") {{ return 403; }}
        }}
        location /cache/locked/ {{ return 409; }}
        location /cache/gone/ {{ return 410; }}
        location /cache/broken/ {{ return 500; }}
"""


class _StagingServer:
    """POST /restore/<key> copies TAPE[key] into the cache folder; DELETE /cache/<key> drops it.

    Records (method, path, headers) of every request; `delay` seconds before answering.
    """

    def __init__(self, cache: pathlib.Path):
        self.cache = cache
        self.requests = []
        self.delay = 0.0
        staging = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                key = staging.record(self, "/restore/")
                if key is None or key == "fail.bin":
                    return self.answer(500)
                if key not in TAPE:
                    return self.answer(404)
                target = staging.cache / key
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(TAPE[key])
                self.answer(200)

            def do_DELETE(self):
                key = staging.record(self, "/cache/")
                if key is None or key == "fail.bin":
                    return self.answer(500)
                target = staging.cache / key
                if not target.exists():
                    return self.answer(404)
                target.unlink()
                self.answer(204)

            def answer(self, status):
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def record(self, handler, prefix):
        self.requests.append((handler.command, handler.path, dict(handler.headers)))
        time.sleep(self.delay)
        if not handler.path.startswith(prefix):
            return None
        return unquote(handler.path.removeprefix(prefix))

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        # A short poll interval keeps shutdown() (and so each test's teardown) quick.
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.stop()


@pytest.fixture
def www(tmp_path):
    root = tmp_path / "www"
    # The same files under `url`, to show that a nearline location never reads there.
    for key, data in TAPE.items():
        (root / "tape" / key).parent.mkdir(parents=True, exist_ok=True)
        (root / "tape" / key).write_bytes(data)
    (root / "cache").mkdir()
    return root


@pytest.fixture
def nginx(nginx_binary, www, tmp_path):
    with NginxServer(nginx_binary, www, EXTRA_CONFIG, tmp_path / "nginx") as server:
        yield server


@pytest.fixture
def staging(www):
    with _StagingServer(www / "cache") as server:
        yield server


@pytest.fixture
def make_location(nginx, staging):
    def make(**fields):
        defaults = {
            "url": nginx.url + "/tape/{key}",
            "tier": "nearline",
            "restore_url": staging.url + "/restore/{key}",
            "cache_url": nginx.url + "/cache/{key}",
            "evict_url": staging.url + "/cache/{key}",
            "headers": {"Authorization": TOKEN},
            "timeout": 30,
            "connect_timeout": 10,
        }
        return HttpLocation("tape", **{**defaults, **fields})

    return make


@pytest.fixture
def location(make_location):
    return make_location()


def read(stream) -> bytes:
    with stream:
        return b"".join(stream)


def test_a_file_not_restored_is_not_cached_and_cannot_be_read(location):
    assert location.is_nearline
    assert location.is_cached("p1/data.bin") is False
    # The file is at `url`, but only the cached copy is readable.
    with pytest.raises(StorageFileNotFound):
        location.stat("p1/data.bin")
    with pytest.raises(StorageFileNotFound):
        location.open("p1/data.bin")


@pytest.mark.parametrize(
    ("offset", "length"), [(0, None), (100, None), (100, 50), (len(DATA) - 1, 1), (50, 0)]
)
def test_a_restored_file_is_cached_and_readable_by_ranges(location, offset, length):
    assert location.restore("p1/data.bin") is None
    assert location.is_cached("p1/data.bin") is True
    assert location.stat("p1/data.bin") == len(DATA)
    end = None if length is None else offset + length
    stream = location.open("p1/data.bin", offset, length)
    assert stream.length == len(DATA[offset:end])
    assert read(stream) == DATA[offset:end]


def test_keys_are_quoted_into_every_url(location, staging):
    location.restore("p1/é and space.bin")
    assert staging.requests[-1][1] == "/restore/p1/%C3%A9%20and%20space.bin"
    assert location.is_cached("p1/é and space.bin")
    assert read(location.open("p1/é and space.bin")) == b"tricky"
    location.evict("p1/é and space.bin")
    assert not location.is_cached("p1/é and space.bin")


def test_restoring_a_file_missing_from_the_storage_is_not_found(location):
    with pytest.raises(StorageFileNotFound):
        location.restore("p1/nope.bin")


def test_a_failing_restore_is_unavailable(location):
    with pytest.raises(StorageUnavailable, match="HTTP 500"):
        location.restore("fail.bin")
    assert not location.is_cached("fail.bin")


def test_a_stopped_staging_service_is_unavailable(make_location, staging):
    location = make_location(retries=0)  # retrying a refused connection only takes longer
    staging.stop()
    with pytest.raises(StorageUnavailable):
        location.restore("p1/data.bin")
    with pytest.raises(StorageUnavailable):
        location.evict("p1/data.bin")


def test_a_stopped_cache_server_is_unavailable(make_location, nginx):
    location = make_location(retries=0)
    location.restore("p1/data.bin")
    nginx.stop()
    with pytest.raises(StorageUnavailable):
        location.is_cached("p1/data.bin")
    with pytest.raises(StorageUnavailable):
        location.stat("p1/data.bin")
    with pytest.raises(StorageUnavailable):
        location.open("p1/data.bin")


@pytest.mark.parametrize("key", ["locked/data.bin", "gone/data.bin"])
def test_a_conflict_or_gone_answer_means_not_cached(location, key):
    assert location.is_cached(key) is False


def test_a_cache_server_error_is_unavailable_not_a_missing_copy(location, make_location):
    with pytest.raises(StorageUnavailable, match="HTTP 500"):
        location.is_cached("broken/data.bin")
    without_token = make_location(headers={})
    with pytest.raises(StorageUnavailable, match="HTTP 403"):
        without_token.is_cached("p1/data.bin")


def test_the_location_headers_are_sent_on_restore_and_evict(location, staging):
    location.restore("p1/data.bin")
    location.evict("p1/data.bin")
    assert [(method, headers.get("Authorization")) for method, _, headers in staging.requests] == [
        ("POST", TOKEN),
        ("DELETE", TOKEN),
    ]


def test_evict_deletes_the_cached_copy_and_tolerates_a_missing_one(location, staging):
    location.restore("p1/data.bin")
    location.evict("p1/data.bin")
    assert not location.is_cached("p1/data.bin")
    with pytest.raises(StorageFileNotFound):
        location.stat("p1/data.bin")
    location.evict("p1/data.bin")
    assert [method for method, _, _ in staging.requests] == ["POST", "DELETE", "DELETE"]


def test_a_failing_evict_is_unavailable(location):
    with pytest.raises(StorageUnavailable, match="HTTP 500"):
        location.evict("fail.bin")


def test_without_evict_url_evict_leaves_the_copy_to_the_remote_storage(make_location, staging):
    location = make_location(evict_url=None)
    location.restore("p1/data.bin")
    location.evict("p1/data.bin")
    assert location.is_cached("p1/data.bin")
    assert [method for method, _, _ in staging.requests] == ["POST"]


def test_cache_url_defaults_to_url(make_location, nginx):
    location = make_location(url=nginx.url + "/cache/{key}", cache_url=None)
    assert location.cache_url == location.url
    assert not location.is_cached("p1/data.bin")
    location.restore("p1/data.bin")
    assert read(location.open("p1/data.bin", 10, 5)) == DATA[10:15]


def test_restore_waits_for_restore_timeout_not_timeout(make_location, staging):
    staging.delay = 2.0
    patient = make_location(timeout=0.2, restore_timeout=10)
    patient.restore("p1/data.bin")
    assert make_location().is_cached("p1/data.bin")  # not with 0.2 s to answer

    impatient = make_location(timeout=10, restore_timeout=0.2)
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        impatient.restore("p1/data.bin")
    assert time.monotonic() - started < staging.delay  # it gave up before the answer
    # A request that reached the server is not sent again: it may still be running there.
    assert [method for method, _, _ in staging.requests] == ["POST", "POST"]


def test_error_messages_do_not_reveal_the_urls(make_location, staging):
    location = make_location(
        restore_url=staging.url + "/restore/{key}?token=hunter2",
        evict_url=staging.url + "/cache/{key}?token=hunter2",
        retries=0,
    )
    staging.stop()
    for action in (location.restore, location.evict):
        with pytest.raises(StorageUnavailable) as error:
            action("p1/data.bin")
        assert "hunter2" not in str(error.value)


@pytest.mark.parametrize("key", ["", "../x", "/etc/passwd", "a/../../x", "a\x00b", "a\\b"])
@pytest.mark.parametrize("evict_url", ["http://127.0.0.1:9/{key}", None])
def test_keys_that_could_escape_are_refused_without_a_request(key, evict_url):
    location = HttpLocation(
        "r",
        url="http://127.0.0.1:9/{key}",
        tier="nearline",
        restore_url="http://127.0.0.1:9/restore/{key}",
        evict_url=evict_url,
    )
    for action in (location.is_cached, location.restore, location.evict):
        with pytest.raises(InvalidKey):
            action(key)


def test_an_online_http_location_has_no_cache():
    location = HttpLocation("r", url="http://127.0.0.1:9/{key}")
    assert not location.is_nearline and location.cache_url is None
    for action in (location.is_cached, location.restore, location.evict):
        with pytest.raises(ValueError, match="online"):
            action("p1/data.bin")


def test_restore_timeout_defaults_to_five_minutes():
    location = HttpLocation(
        "r", url="http://h/{key}", tier="nearline", restore_url="http://h/restore/{key}"
    )
    assert location.restore_timeout == 300
    assert location.cache_url == "http://h/{key}" and location.evict_url is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tier": "nearline"}, "'restore_url' is required"),
        ({"tier": "nearline", "restore_url": "http://h/restore"}, "'restore_url' must contain"),
        (
            {"tier": "nearline", "restore_url": "http://h/r/{key}", "cache_url": "http://h/c"},
            "'cache_url' must contain",
        ),
        (
            {"tier": "nearline", "restore_url": "http://h/r/{key}", "evict_url": "http://h/c"},
            "'evict_url' must contain",
        ),
        (
            {"tier": "nearline", "restore_url": "http://h/r/{key}", "restore_timeout": 0},
            "'restore_timeout'",
        ),
        ({"restore_url": "http://h/r/{key}"}, "'restore_url' is only for nearline"),
        ({"cache_url": "http://h/c/{key}"}, "'cache_url' is only for nearline"),
        ({"evict_url": "http://h/c/{key}"}, "'evict_url' is only for nearline"),
        ({"restore_timeout": 60}, "'restore_timeout' is only for nearline"),
    ],
)
def test_a_bad_nearline_configuration_is_refused(fields, message):
    with pytest.raises(ValueError) as error:
        HttpLocation("r", url="http://h/{key}", **fields)
    assert message in str(error.value)
