"""What only the s3 backend does: keys under a prefix, credentials, Glacier restores read
from HeadObject's `Restore` header, presigned URLs, the start-up check. Against moto's
S3 server (tests/s3.py); the shared behaviour is in test_contract.py."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from storage_client import (
    S3Location,
    StorageConfigError,
    StorageFileNotFound,
    StorageUnavailable,
    load_locations,
)
from tests.processes import DEADLINE, wait_until
from tests.s3 import BUCKET, CREDENTIALS


def location(s3_server, name="archive", **fields):
    fields = {"bucket": BUCKET, "endpoint_url": s3_server.url, **CREDENTIALS, **fields}
    return S3Location(name, **{"retries": 0, **fields})


def read(stream) -> bytes:
    with stream:
        return b"".join(stream)


def test_keys_are_read_under_the_prefix_and_nothing_else(s3_server):
    s3_server.put("data/p1/a.bin", b"under the prefix")
    s3_server.put("p1/a.bin", b"beside it")
    archive = location(s3_server, prefix="data/")
    assert archive.stat("p1/a.bin") == len(b"under the prefix")
    assert read(archive.open("p1/a.bin")) == b"under the prefix"
    assert read(location(s3_server).open("p1/a.bin")) == b"beside it"  # no prefix: the root


def test_a_location_loads_from_the_config_file_and_reads(s3_server, tmp_path):
    s3_server.put("online/f.bin", b"configured")
    fields = {**s3_server.location(prefix="online"), "redirect": True, "verify": False}
    config = tmp_path / "storage.json"
    config.write_text(json.dumps({"locations": {"bucket": fields}}))
    loaded = load_locations(str(config), tmp_path)["bucket"]
    assert isinstance(loaded, S3Location)
    assert (loaded.redirect, loaded.verify, loaded.tier) == (True, False, "online")
    assert read(loaded.open("f.bin")) == b"configured"


def test_credentials_come_from_the_aws_environment_when_not_given(s3_server, monkeypatch):
    s3_server.put("f.bin", b"env")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-env")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-env-secret")
    archive = S3Location("archive", bucket=BUCKET, endpoint_url=s3_server.url, retries=0)
    assert read(archive.open("f.bin")) == b"env"


def test_no_credentials_at_all_is_an_error_naming_the_location(tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    # The last link of the chain asks an EC2 metadata address: never from a test.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    config = tmp_path / "storage.json"
    config.write_text(json.dumps({"locations": {"cold": {"backend": "s3", "bucket": BUCKET}}}))
    with pytest.raises(ValueError, match="location 'cold': no credentials"):
        load_locations(str(config), tmp_path)


def test_check_passes_for_a_bucket_the_credentials_may_read(s3_server):
    location(s3_server).check()


def test_check_says_refused_credentials_are_a_configuration_error(s3_server):
    archive = location(s3_server)
    s3_server.refuse_unknown_credentials()
    with pytest.raises(StorageConfigError, match="location 'archive'.*403"):
        archive.check()
    # A read then is storage trouble (502), never a missing file.
    with pytest.raises(StorageUnavailable):
        archive.stat("f.bin")


def test_check_says_a_missing_bucket_is_a_configuration_error(s3_server):
    with pytest.raises(StorageConfigError, match="bucket 'nowhere'"):
        location(s3_server, bucket="nowhere").check()


def test_check_says_an_unreachable_endpoint_is_unavailable(s3_server):
    archive = location(s3_server)
    s3_server.stop()
    with pytest.raises(StorageUnavailable, match="location 'archive'"):
        archive.check()


def test_a_stopped_server_is_unavailable_for_every_call(s3_server):
    online, nearline = location(s3_server), location(s3_server, tier="nearline")
    s3_server.stop()
    calls = [online.stat, online.open, nearline.is_cached, nearline.restore]
    for call in calls:
        with pytest.raises(StorageUnavailable):
            call("f.bin")


def test_an_archived_object_in_an_online_location_is_unavailable_not_missing(s3_server):
    s3_server.put("cold.bin", b"on tape", storage_class="DEEP_ARCHIVE")
    with pytest.raises(StorageUnavailable, match="nearline"):
        location(s3_server).open("cold.bin")


# Glacier restores


def test_a_restore_is_pending_then_ready_until_the_expiry_s3_gives(s3_server):
    s3_server.put("tape/g.bin", b"glacier bytes", storage_class="GLACIER")
    s3_server.restores_take(polls=6)  # each call that reads the object counts one
    tape = location(s3_server, tier="nearline", prefix="tape")
    assert tape.restore_state("g.bin").ready is False

    tape.restore("g.bin", hours=30)  # rounded up: 2 days

    assert tape.restore_state("g.bin").ready is False  # ongoing-request="true"
    with pytest.raises(StorageFileNotFound, match="not restored"):
        tape.stat("g.bin")
    state = wait_until(lambda: (s := tape.restore_state("g.bin")).ready and s)
    header = s3_server.client.head_object(Bucket=BUCKET, Key="tape/g.bin")["Restore"]
    assert 'ongoing-request="false"' in header
    expected = datetime.now(UTC) + timedelta(days=2)
    assert abs(state.until - expected) < timedelta(seconds=DEADLINE)
    assert tape.is_cached("g.bin")
    assert read(tape.open("g.bin", 8)) == b"bytes"


def test_restoring_again_while_a_restore_runs_is_harmless(s3_server):
    s3_server.put("g.bin", b"glacier bytes", storage_class="GLACIER")
    s3_server.restores_take(polls=5)
    tape = location(s3_server, tier="nearline")
    tape.restore("g.bin")
    tape.restore("g.bin")
    wait_until(lambda: tape.restore_state("g.bin").ready)


def test_an_object_not_archived_in_a_nearline_location_is_ready_as_it_is(s3_server):
    s3_server.put("warm.bin", b"standard class")
    tape = location(s3_server, tier="nearline")
    tape.restore("warm.bin")  # S3 refuses to restore it: nothing to restore
    assert tape.restore_state("warm.bin").ready
    assert read(tape.open("warm.bin")) == b"standard class"


# Presigned URLs


def test_a_presigned_url_gets_the_object_with_the_headers_asked(s3_server):
    s3_server.put("p/f.bin", b"signed bytes")
    archive = location(s3_server, prefix="p")
    disposition = "attachment; filename=\"f.bin\"; filename*=UTF-8''f.bin"
    url = archive.presigned_url(
        "f.bin",
        seconds=60,
        headers={"Content-Disposition": disposition, "Content-Type": "application/x-test"},
    )
    assert "X-Amz-Expires=60" in url
    response = requests.get(url, timeout=DEADLINE)
    assert response.status_code == 200
    assert response.content == b"signed bytes"
    assert response.headers["Content-Disposition"] == disposition
    assert response.headers["Content-Type"] == "application/x-test"
