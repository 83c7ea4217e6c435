"""What only a nearline http location does: a remote storage that stages files from tape
into its cache, asked over HTTP. The contract every location keeps is in test_contract.
"""

import time

import pytest

from storage_client import HttpLocation, StorageUnavailable
from tests.nginx import NginxServer
from tests.storage_client.staging import StagingServer

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


@pytest.fixture
def www(tmp_path):
    root = tmp_path / "www"
    # The storage's tape, served at `url` too; the staging server copies from it.
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
    with StagingServer(tape=www / "tape", cache=www / "cache", broken={"fail.bin"}) as server:
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


def test_keys_are_percent_encoded_in_the_restore_and_evict_urls(location, staging):
    location.restore("p1/é and space.bin")
    location.evict("p1/é and space.bin")
    assert [path for _, path, _ in staging.requests] == [
        "/restore/p1/%C3%A9%20and%20space.bin",
        "/cache/p1/%C3%A9%20and%20space.bin",
    ]


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


def test_restore_and_evict_send_the_location_headers_and_restore_returns_nothing(location, staging):
    assert location.restore("p1/data.bin") is None  # the copy is not on this machine
    location.evict("p1/data.bin")
    location.evict("p1/data.bin")  # answered 404: a copy already gone is fine
    assert [(method, headers.get("Authorization")) for method, _, headers in staging.requests] == [
        ("POST", TOKEN),
        ("DELETE", TOKEN),
        ("DELETE", TOKEN),
    ]


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


def test_restore_timeout_defaults_to_five_minutes_and_cache_url_to_url():
    location = HttpLocation(
        "r", url="http://h/{key}", tier="nearline", restore_url="http://h/restore/{key}"
    )
    assert location.restore_timeout == 300
    assert location.cache_url == "http://h/{key}" and location.evict_url is None
    assert HttpLocation("r", url="http://h/{key}").cache_url is None


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
