"""The contract of storage_client.Location, held by every backend.

Each test runs against a local location, an http one served by a real nginx (with a
small staging server for nearline restore and evict), and an s3 one on moto's S3 server
(Glacier-class objects for nearline). A new backend joins `storage`.
What only one backend does (symlinks, X-Accel-Redirect, retries, timeouts, headers…)
is tested in that backend's own module.
"""

import dataclasses
import hashlib
import os
import pathlib

import pytest

from storage_client import (
    CHUNK_SIZE,
    HttpLocation,
    InvalidKey,
    LocalLocation,
    Location,
    S3Location,
    StorageFileNotFound,
    StorageUnavailable,
)
from tests.processes import wait_until
from tests.s3 import BUCKET, CREDENTIALS
from tests.storage_client.staging import StagingServer

DATA = bytes(range(256)) * 40  # 10240 bytes, every offset distinguishable
SIZE = len(DATA)
# Characters that need quoting in a URL, or are special in one.
TRICKY_KEYS = ["p1/é and space.bin", "p1/100%.bin", "p1/what?.bin", "p1/hash#.bin"]
FILES = {"p1/data.bin": DATA, "p1/empty.bin": b"", **{key: key.encode() for key in TRICKY_KEYS}}
# "../tape/…" names a real file, the nearline one, beside the online files.
BAD_KEYS = ["", "..", "../x", "../tape/p1/data.bin", "/etc/passwd", "a/../../x", "p1/.."]
BAD_KEYS += ["a\x00b", "a\\b"]  # a NUL byte; a backslash


@dataclasses.dataclass
class Storage:
    online: Location
    nearline: Location
    online_folder: pathlib.Path | None  # where the online location's files are
    # Whether evict() drops the cached copy: S3 drops a restored copy itself, at its expiry.
    evicts: bool = True

    def put(self, key: str, data: bytes) -> None:
        path = self.online_folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@dataclasses.dataclass
class S3Storage(Storage):
    server: object = None

    def put(self, key: str, data: bytes) -> None:
        self.server.put("online/" + key, data)


def _write_files(folder: pathlib.Path) -> None:
    for key, data in FILES.items():
        (folder / key).parent.mkdir(parents=True, exist_ok=True)
        (folder / key).write_bytes(data)


@pytest.fixture
def local_storage(tmp_path):
    _write_files(tmp_path / "online")
    _write_files(tmp_path / "tape")
    return Storage(
        online=LocalLocation("online", root=tmp_path / "online"),
        nearline=LocalLocation(
            "nearline", root=tmp_path / "tape", tier="nearline", cache=tmp_path / "cache"
        ),
        online_folder=tmp_path / "online",
    )


@pytest.fixture
def http_storage(nginx_server):
    root = nginx_server.root
    _write_files(root / "online")
    # The nearline files are served under `url` too, so reading them before a restore
    # would show the location reads somewhere other than its cache.
    _write_files(root / "tape")
    with StagingServer(tape=root / "tape", cache=root / "cache") as staging:
        timeouts = {"timeout": 5, "connect_timeout": 2}
        yield Storage(
            online=HttpLocation("online", url=nginx_server.url + "/online/{key}", **timeouts),
            nearline=HttpLocation(
                "nearline",
                url=nginx_server.url + "/tape/{key}",
                tier="nearline",
                cache_url=nginx_server.url + "/cache/{key}",
                restore_url=staging.url + "/restore/{key}",
                evict_url=staging.url + "/cache/{key}",
                **timeouts,
            ),
            online_folder=root / "online",
        )


@pytest.fixture
def s3_storage(s3_server):
    for key, data in FILES.items():
        s3_server.put("online/" + key, data)
        # Read before a restore, these would show the location ignores the storage class.
        s3_server.put("tape/" + key, data, storage_class="GLACIER")
    fields = {"bucket": BUCKET, "endpoint_url": s3_server.url, **CREDENTIALS, "retries": 0}
    return S3Storage(
        online=S3Location("online", prefix="online", **fields),
        nearline=S3Location("nearline", prefix="tape", tier="nearline", **fields),
        online_folder=None,
        evicts=False,
        server=s3_server,
    )


@pytest.fixture(params=["local", "http", "s3"])
def storage(request) -> Storage:
    return request.getfixturevalue(f"{request.param}_storage")


@pytest.fixture
def online(storage):
    return storage.online


@pytest.fixture
def nearline(storage):
    return storage.nearline


def read(stream) -> bytes:
    with stream:
        return b"".join(stream)


def restore(nearline, key):
    """Restore `key` and return once its copy is readable: a location that restores in
    the background (s3) is polled."""
    nearline.restore(key)
    if nearline.restores_in_background:
        wait_until(lambda: nearline.restore_state(key).ready, message=f"the restore of {key}")


# Reading


def test_stat_gives_the_size(online):
    assert online.stat("p1/data.bin") == SIZE
    assert online.stat("p1/empty.bin") == 0


def test_open_reads_the_whole_file(online):
    stream = online.open("p1/data.bin")
    assert stream.length == SIZE
    assert read(stream) == DATA


RANGES = [(100, None), (100, 50), (SIZE - 1, 1), (SIZE - 1, None), (0, 1), (50, 0), (SIZE, 0)]


@pytest.mark.parametrize(("offset", "length"), RANGES)
def test_open_reads_the_requested_range(online, offset, length):
    end = None if length is None else offset + length
    stream = online.open("p1/data.bin", offset, length)
    assert stream.length == len(DATA[offset:end])
    assert read(stream) == DATA[offset:end]


def test_open_reads_a_zero_length_file(online):
    assert read(online.open("p1/empty.bin")) == b""
    assert read(online.open("p1/empty.bin", 0, 0)) == b""


@pytest.mark.parametrize("key", TRICKY_KEYS)
def test_keys_with_spaces_and_url_characters_name_their_file(online, key):
    assert online.stat(key) == len(key.encode())
    assert read(online.open(key)) == key.encode()


def test_a_large_file_streams_intact_in_chunks_of_at_most_chunk_size(storage):
    big = os.urandom(20 * 1024 * 1024 + 123)
    storage.put("big.bin", big)
    digest = hashlib.sha256()
    with storage.online.open("big.bin") as stream:
        for chunk in stream:
            assert 0 < len(chunk) <= CHUNK_SIZE
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(big).hexdigest()

    offset, length = 3 * CHUNK_SIZE + 7, 5 * CHUNK_SIZE
    assert read(storage.online.open("big.bin", offset, length)) == big[offset : offset + length]


@pytest.mark.parametrize(
    ("offset", "length"),
    [(SIZE - 10, 11), (SIZE - 10, 20), (SIZE + 1, None), (SIZE + 10, None), (SIZE + 1, 0)],
)
def test_a_range_beyond_the_end_is_unavailable_before_the_first_byte(online, offset, length):
    with pytest.raises(StorageUnavailable):
        online.open("p1/data.bin", offset, length)


def test_a_stream_read_to_the_end_closes_itself(online):
    stream = online.open("p1/data.bin")
    assert b"".join(stream) == DATA
    assert stream.closed


@pytest.mark.parametrize("chunks_read", [0, 1])
def test_closing_a_stream_early_releases_it_and_ends_iteration(storage, chunks_read):
    storage.put("big.bin", os.urandom(3 * CHUNK_SIZE))
    stream = storage.online.open("big.bin")
    for _ in range(chunks_read):
        next(stream)
    stream.close()
    stream.close()
    assert stream.closed
    assert list(stream) == []
    # What the stream held (a file, a pooled connection) is usable again.
    assert storage.online.stat("p1/data.bin") == SIZE
    assert read(storage.online.open("p1/data.bin", 10, 5)) == DATA[10:15]


def test_a_missing_file_is_not_found(online):
    for key in ("p1/nope.bin", "nope/data.bin"):
        with pytest.raises(StorageFileNotFound):
            online.stat(key)
        with pytest.raises(StorageFileNotFound):
            online.open(key)
        with pytest.raises(StorageFileNotFound):
            online.open(key, 0, 0)


def test_a_file_used_as_a_folder_is_not_found(online):
    with pytest.raises(StorageFileNotFound):
        online.stat("p1/empty.bin/x")
    with pytest.raises(StorageFileNotFound):
        online.open("p1/empty.bin/x")


# Keys that could escape the location


@pytest.mark.parametrize("key", BAD_KEYS)
def test_keys_that_could_escape_are_refused(online, nearline, key):
    calls = [online.stat, online.open, nearline.stat, nearline.open]
    for call in calls + [nearline.is_cached, nearline.restore, nearline.evict]:
        with pytest.raises(InvalidKey):
            call(key)


def test_an_invalid_key_counts_as_not_found(online):
    with pytest.raises(StorageFileNotFound):
        online.stat("../x")


# Nearline: only the cached copy is readable


def test_a_nearline_file_not_restored_is_not_cached_and_cannot_be_read(nearline):
    assert nearline.is_nearline
    assert nearline.is_cached("p1/data.bin") is False
    with pytest.raises(StorageFileNotFound):
        nearline.stat("p1/data.bin")
    with pytest.raises(StorageFileNotFound):
        nearline.open("p1/data.bin")


@pytest.mark.parametrize(("offset", "length"), [(0, None), *RANGES])
def test_a_restored_file_is_cached_and_readable_by_ranges(nearline, offset, length):
    restore(nearline, "p1/data.bin")
    assert nearline.is_cached("p1/data.bin") is True
    assert nearline.stat("p1/data.bin") == SIZE
    end = None if length is None else offset + length
    stream = nearline.open("p1/data.bin", offset, length)
    assert stream.length == len(DATA[offset:end])
    assert read(stream) == DATA[offset:end]


@pytest.mark.parametrize("key", TRICKY_KEYS)
def test_nearline_keys_with_spaces_and_url_characters_name_their_file(storage, key):
    nearline = storage.nearline
    restore(nearline, key)
    assert nearline.is_cached(key)
    assert read(nearline.open(key)) == key.encode()
    nearline.evict(key)
    assert nearline.is_cached(key) is not storage.evicts


def test_restoring_a_file_missing_from_the_storage_is_not_found(nearline):
    with pytest.raises(StorageFileNotFound):
        nearline.restore("p1/nope.bin")
    assert not nearline.is_cached("p1/nope.bin")


def test_evict_drops_the_cached_copy_keeps_the_file_and_tolerates_a_missing_copy(storage):
    if not storage.evicts:
        pytest.skip("this storage drops a restored copy itself, at its expiry date")
    nearline = storage.nearline
    nearline.restore("p1/data.bin")
    nearline.evict("p1/data.bin")
    assert not nearline.is_cached("p1/data.bin")
    with pytest.raises(StorageFileNotFound):
        nearline.stat("p1/data.bin")
    nearline.evict("p1/data.bin")
    # The stored file is still there to be restored again.
    restore(nearline, "p1/data.bin")
    assert read(nearline.open("p1/data.bin")) == DATA


def test_an_online_location_has_no_cache(online):
    for action in (online.is_cached, online.restore, online.evict):
        with pytest.raises(ValueError, match="online"):
            action("p1/data.bin")
