import json

import pytest

from storage_client import HttpLocation, LocalLocation, load_locations


def write_config(tmp_path, locations) -> str:
    path = tmp_path / "storage.json"
    path.write_text(json.dumps({"locations": locations}))
    return str(path)


@pytest.mark.parametrize("config_path", [None, ""])
def test_without_a_config_file_the_default_local_locations_are_used(tmp_path, config_path):
    locations = load_locations(config_path, tmp_path)
    assert set(locations) == {"online", "nearline"}
    online, nearline = locations["online"], locations["nearline"]
    assert isinstance(online, LocalLocation) and online.tier == "online"
    assert online.root == tmp_path / "online"
    assert nearline.is_nearline
    assert nearline.root == tmp_path / "nearline"
    assert nearline.cache == tmp_path / "cache"
    assert online.name == "online" and nearline.name == "nearline"


def test_the_spec_example_loads(tmp_path):
    path = write_config(
        tmp_path,
        {
            "online": {"backend": "local", "root": "/data/online", "tier": "online"},
            "nearline": {
                "backend": "local",
                "root": "/data/tape",
                "tier": "nearline",
                "cache": "/data/cache",
            },
            "remote": {
                "backend": "http",
                "url": "http://127.0.0.1:9000/{key}",
                "tier": "online",
                "headers": {"Authorization": "Bearer x"},
                "timeout": 30,
            },
        },
    )
    locations = load_locations(path, tmp_path / "unused")
    assert locations["online"].root.as_posix() == "/data/online"
    assert locations["nearline"].cache.as_posix() == "/data/cache"
    remote = locations["remote"]
    assert isinstance(remote, HttpLocation)
    assert remote.name == "remote"
    assert remote.headers == {"Authorization": "Bearer x"}
    assert remote.timeout == 30 and remote.connect_timeout == 5 and remote.retries == 3


def test_relative_folders_are_relative_to_the_config_file(tmp_path):
    path = write_config(
        tmp_path,
        {"tape": {"backend": "local", "root": "tape", "tier": "nearline", "cache": "../cache"}},
    )
    tape = load_locations(path, tmp_path / "unused")["tape"]
    assert tape.root == tmp_path / "tape"
    assert tape.cache.resolve() == (tmp_path.parent / "cache").resolve()


def test_tier_defaults_to_online_and_accel_prefix_is_configurable(tmp_path):
    path = write_config(
        tmp_path, {"a": {"backend": "local", "root": "a", "accel_prefix": "/internal/a/"}}
    )
    location = load_locations(path, tmp_path)["a"]
    assert location.tier == "online"
    assert location.accel_path("f.bin") == "/internal/a/f.bin"


def test_an_http_location_checks_digests_unless_told_not_to(tmp_path):
    url = "http://h/files/{key}"
    path = write_config(
        tmp_path,
        {
            "checked": {"backend": "http", "url": url},
            "unchecked": {"backend": "http", "url": url, "verify": False, "accel_prefix": "/x"},
        },
    )
    locations = load_locations(path, tmp_path)
    assert locations["checked"].verify is True
    assert locations["checked"].accel_path("f.bin") == "/_storage/checked/f.bin"
    assert locations["unchecked"].verify is False
    assert locations["unchecked"].accel_path("f.bin") == "/x/f.bin"


def test_a_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        load_locations(str(tmp_path / "nope.json"), tmp_path)


def test_a_config_file_with_bad_json_is_an_error(tmp_path):
    path = tmp_path / "storage.json"
    path.write_text('{"locations": ')
    with pytest.raises(ValueError, match="invalid JSON"):
        load_locations(str(path), tmp_path)


@pytest.mark.parametrize("content", ["[]", "{}", '{"locations": {}}', '{"locations": []}'])
def test_a_config_file_without_locations_is_an_error(tmp_path, content):
    path = tmp_path / "storage.json"
    path.write_text(content)
    with pytest.raises(ValueError, match="locations"):
        load_locations(str(path), tmp_path)


NEARLINE_HTTP = {
    "backend": "http",
    "url": "http://h/files/{key}",
    "tier": "nearline",
    "restore_url": "http://h/restore/{key}",
}


def test_a_nearline_http_location_loads_with_its_defaults(tmp_path):
    path = write_config(tmp_path, {"tape": NEARLINE_HTTP})
    tape = load_locations(path, tmp_path)["tape"]
    assert isinstance(tape, HttpLocation) and tape.is_nearline
    assert tape.restore_url == "http://h/restore/{key}"
    assert tape.cache_url == tape.url == "http://h/files/{key}"
    assert tape.evict_url is None
    assert tape.restore_timeout == 300


def test_a_nearline_http_location_takes_cache_evict_and_timeout(tmp_path):
    fields = {
        **NEARLINE_HTTP,
        "cache_url": "http://h/cache/{key}",
        "evict_url": "http://h/cache/{key}",
        "restore_timeout": 1800,
    }
    tape = load_locations(write_config(tmp_path, {"tape": fields}), tmp_path)["tape"]
    assert tape.cache_url == tape.evict_url == "http://h/cache/{key}"
    assert tape.restore_timeout == 1800


S3_BUCKET = {"backend": "s3", "bucket": "archive"}
S3 = {**S3_BUCKET, "access_key": "k", "secret_key": "s"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("not an object", "expected an object"),
        ({"root": "a"}, "'backend'"),
        ({"backend": "ftp", "root": "a"}, "'backend'"),
        ({"backend": "local"}, "'root' is required"),
        ({"backend": "local", "root": ""}, "'root' is empty"),
        ({"backend": "local", "root": 5}, "'root' has the wrong type"),
        ({"backend": "local", "root": "a", "tier": "offline"}, "'tier'"),
        ({"backend": "local", "root": "a", "tier": "nearline"}, "'cache' is required"),
        ({"backend": "local", "root": "a", "cache": "c"}, "'cache' is only for nearline"),
        ({"backend": "local", "root": "a", "cahce": "c"}, "unknown field 'cahce'"),
        ({"backend": "http"}, "'url' is required"),
        ({"backend": "http", "url": "http://h/files"}, "'url' must contain {key}"),
        ({"backend": "http", "url": "http://h/{key}", "tier": "nearline"}, "'restore_url' is"),
        (
            {**NEARLINE_HTTP, "restore_url": "http://h/restore"},
            "'restore_url' must contain {key}",
        ),
        ({**NEARLINE_HTTP, "cache_url": "http://h/cache"}, "'cache_url' must contain {key}"),
        ({**NEARLINE_HTTP, "restore_timeout": "300"}, "'restore_timeout' has the wrong type"),
        ({**NEARLINE_HTTP, "restore_timeout": -1}, "'restore_timeout'"),
        ({**NEARLINE_HTTP, "cache": "c"}, "unknown field 'cache'"),
        (
            {"backend": "http", "url": "http://h/{key}", "cache_url": "http://h/c/{key}"},
            "'cache_url' is only for nearline",
        ),
        ({"backend": "http", "url": "http://h/{key}", "timeout": "30"}, "'timeout'"),
        ({"backend": "http", "url": "http://h/{key}", "timeout": 0}, "'timeout'"),
        ({"backend": "http", "url": "http://h/{key}", "retries": True}, "'retries'"),
        ({"backend": "http", "url": "http://h/{key}", "retries": -1}, "'retries'"),
        ({"backend": "http", "url": "http://h/{key}", "headers": {"X": 1}}, "'headers'"),
        ({"backend": "http", "url": "http://h/{key}", "root": "a"}, "unknown field 'root'"),
        ({"backend": "http", "url": "http://h/{key}", "verify": "no"}, "'verify' has the wrong"),
        ({"backend": "http", "url": "http://h/{key}", "verify": 0}, "'verify' has the wrong"),
        ({"backend": "local", "root": "a", "verify": False}, "unknown field 'verify'"),
        ({"backend": "s3"}, "'bucket' is required"),
        ({**S3_BUCKET, "access_key": "k"}, "'access_key' and 'secret_key' go together"),
        ({**S3, "prefix": "a/../../b"}, "field 'prefix'"),
        ({**S3, "prefix": "/etc"}, "field 'prefix'"),
        ({**S3, "tier": "nearline", "redirect": True}, "'redirect' is only for online"),
        ({**S3, "redirect": "yes"}, "'redirect' has the wrong type"),
        ({**S3, "root": "a"}, "unknown field 'root'"),
        ({**S3, "retries": -1}, "'retries'"),
    ],
)
def test_a_bad_location_is_an_error_naming_the_location_and_field(tmp_path, fields, message):
    path = write_config(tmp_path, {"good": {"backend": "local", "root": "a"}, "bad": fields})
    with pytest.raises(ValueError, match="location 'bad'") as error:
        load_locations(path, tmp_path)
    assert message in str(error.value)
