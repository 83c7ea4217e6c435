"""What only a local location does; the contract every location keeps is in test_contract."""

import http.server
import os
import threading

import pytest
import requests

from storage_client import (
    CHUNK_SIZE,
    InvalidKey,
    LocalLocation,
    StorageFileNotFound,
    StorageUnavailable,
)
from tests.nginx import NginxServer

DATA = bytes(range(256)) * 40  # 10240 bytes, every offset distinguishable


@pytest.fixture
def online(tmp_path):
    root = tmp_path / "online"
    (root / "products" / "p1").mkdir(parents=True)
    (root / "products" / "p1" / "data.bin").write_bytes(DATA)
    (root / "empty.bin").write_bytes(b"")
    return LocalLocation("online", root=root)


@pytest.fixture
def nearline(tmp_path):
    root = tmp_path / "tape"
    (root / "p2").mkdir(parents=True)
    (root / "p2" / "data.bin").write_bytes(DATA)
    return LocalLocation("nearline", root=root, tier="nearline", cache=tmp_path / "cache")


def read(stream) -> bytes:
    with stream:
        return b"".join(stream)


# Reading


def test_open_reads_whole_chunks_of_chunk_size_but_the_last(online):
    big = os.urandom(2 * CHUNK_SIZE + 1000)
    (online.root / "big.bin").write_bytes(big)
    with online.open("big.bin") as stream:
        chunks = list(stream)
    assert [len(c) for c in chunks] == [CHUNK_SIZE, CHUNK_SIZE, 1000]
    assert b"".join(chunks) == big


def test_a_file_that_shrinks_while_read_is_reported_as_truncated(online):
    path = online.root / "products/p1/data.bin"
    with online.open("products/p1/data.bin") as stream:
        os.truncate(path, 10)
        with pytest.raises(StorageUnavailable, match="truncated"):
            b"".join(stream)


def test_a_folder_is_not_a_file(online):
    with pytest.raises(StorageFileNotFound):
        online.stat("products")
    with pytest.raises(StorageFileNotFound):
        online.open("products/p1")


def test_local_path_of_a_missing_file_is_not_found(online):
    with pytest.raises(StorageFileNotFound):
        online.local_path("nope.bin")


def test_local_path_is_the_real_path_inside_the_root(online):
    path = online.local_path("products/p1/data.bin")
    assert path == (online.root / "products/p1/data.bin").resolve()
    assert path.read_bytes() == DATA


# Keys that could escape the root


BAD_KEYS = ["", "../x", "/etc/passwd", "a/../../x", "products/..", "a\x00b", "a\\b", ".."]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_keys_that_could_escape_the_root_have_no_local_or_accel_path(online, key):
    for call in (online.local_path, online.accel_path):
        with pytest.raises(InvalidKey):
            call(key)


def test_a_symlink_pointing_outside_the_root_is_refused(online, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (online.root / "link.txt").symlink_to(secret)
    (online.root / "linkdir").symlink_to(tmp_path)
    for key in ("link.txt", "linkdir/secret.txt"):
        with pytest.raises(InvalidKey):
            online.stat(key)
        with pytest.raises(InvalidKey):
            online.open(key)
        with pytest.raises(InvalidKey):
            online.local_path(key)


def test_a_symlink_inside_the_root_is_followed(online):
    (online.root / "alias.bin").symlink_to(online.root / "products/p1/data.bin")
    (online.root / "p1").symlink_to("products/p1")
    assert read(online.open("alias.bin")) == DATA
    assert online.stat("p1/data.bin") == len(DATA)
    assert online.local_path("alias.bin") == (online.root / "products/p1/data.bin").resolve()


def test_a_root_that_is_itself_a_symlink_works(tmp_path, online):
    (tmp_path / "root-link").symlink_to(online.root)
    location = LocalLocation("online", root=tmp_path / "root-link")
    assert location.stat("products/p1/data.bin") == len(DATA)


# Nearline: the readable copy is the cached one


def test_restore_returns_the_cached_path_and_leaves_no_temporary_file(nearline):
    path = nearline.restore("p2/data.bin")
    assert path == (nearline.cache / "p2/data.bin").resolve()
    assert path.read_bytes() == DATA
    assert nearline.local_path("p2/data.bin") == path
    assert os.listdir(nearline.cache / "p2") == ["data.bin"]


def test_restore_replaces_a_stale_cached_copy(nearline):
    (nearline.cache / "p2").mkdir(parents=True)
    (nearline.cache / "p2/data.bin").write_bytes(b"stale")
    nearline.restore("p2/data.bin")
    assert (nearline.cache / "p2/data.bin").read_bytes() == DATA
    assert os.listdir(nearline.cache / "p2") == ["data.bin"]


def test_restore_of_a_missing_file_is_not_found_and_leaves_nothing(nearline):
    with pytest.raises(StorageFileNotFound):
        nearline.restore("p2/nope.bin")
    assert not nearline.cache.exists() or list(nearline.cache.rglob("*.tmp")) == []


def test_a_nearline_location_needs_a_cache(tmp_path):
    with pytest.raises(ValueError, match="cache"):
        LocalLocation("n", root=tmp_path, tier="nearline")


def test_an_unknown_tier_is_refused(tmp_path):
    with pytest.raises(ValueError, match="tier"):
        LocalLocation("x", root=tmp_path, tier="offline")


# Writing


def test_store_copies_a_file_into_the_root_creating_folders(online, tmp_path):
    source = tmp_path / "incoming.bin"
    source.write_bytes(b"new data")
    path = online.store(source, "new/folder/file.bin")
    assert path == (online.root / "new/folder/file.bin").resolve()
    assert online.stat("new/folder/file.bin") == 8
    assert os.listdir(online.root / "new/folder") == ["file.bin"]


def test_store_replaces_an_existing_file(online, tmp_path):
    source = tmp_path / "incoming.bin"
    source.write_bytes(b"replacement")
    online.store(source, "products/p1/data.bin")
    assert read(online.open("products/p1/data.bin")) == b"replacement"
    assert os.listdir(online.root / "products/p1") == ["data.bin"]


def test_store_of_a_missing_source_is_not_found(online, tmp_path):
    with pytest.raises(StorageFileNotFound):
        online.store(tmp_path / "nope.bin", "x.bin")


def test_store_refuses_a_key_escaping_the_root(online, tmp_path):
    source = tmp_path / "incoming.bin"
    source.write_bytes(b"x")
    with pytest.raises(InvalidKey):
        online.store(source, "../escaped.bin")
    assert not (tmp_path / "escaped.bin").exists()


# X-Accel-Redirect


def test_accel_path_quotes_the_key_under_the_location_prefix(online, nearline, tmp_path):
    assert online.accel_path("products/p1/data.bin") == "/_storage/online/products/p1/data.bin"
    assert online.accel_path("a b/é%?#.bin") == "/_storage/online/a%20b/%C3%A9%25%3F%23.bin"
    assert nearline.accel_path("p2/data.bin") == "/_storage/nearline-cache/p2/data.bin"
    custom = LocalLocation("x", root=tmp_path, accel_prefix="/internal/x")
    assert custom.accel_path("f.bin") == "/internal/x/f.bin"


TRICKY_NAMES = ["plain.bin", "with space.bin", "é ü.bin", "100%.bin", "what?.bin", "hash#.bin"]


def test_nginx_serves_the_accel_path_of_tricky_names(nginx_binary, online, tmp_path):
    for name in TRICKY_NAMES:
        (online.root / name).write_bytes(name.encode() * 100)
    (tmp_path / "www").mkdir()
    backend = _AccelBackend()
    extra = f"""
        location /app/ {{ proxy_pass http://127.0.0.1:{backend.port}; }}
        location /_storage/online/ {{ internal; alias "{online.root}/"; }}
    """
    with backend, NginxServer(nginx_binary, tmp_path / "www", extra, tmp_path / "nginx") as nginx:
        for name in TRICKY_NAMES:
            backend.accel = online.accel_path(name)
            response = requests.get(nginx.url + "/app/download", timeout=30)
            assert response.status_code == 200, (name, nginx.logs())
            assert response.content == name.encode() * 100
        # The internal prefix is not reachable from outside.
        assert requests.get(nginx.url + "/_storage/online/plain.bin", timeout=30).status_code == 404


class _AccelBackend:
    """An app server that answers every request with the X-Accel-Redirect it is told."""

    def __init__(self):
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("X-Accel-Redirect", backend.accel)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.accel = ""
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()
