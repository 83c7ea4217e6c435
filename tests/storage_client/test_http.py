"""What only an http location does (statuses, headers, timeouts, odd servers); the
contract every location keeps is in test_contract."""

import http.server
import socket
import threading
import time

import pytest
import requests

from storage_client import HttpLocation, InvalidKey, StorageFileNotFound, StorageUnavailable
from tests.nginx import NginxServer
from tests.storage_client.test_local import TRICKY_NAMES, _AccelBackend

DATA = bytes(range(256)) * 40  # 10240 bytes, every offset distinguishable

EXTRA_CONFIG = """
        location /private/ {
            if ($http_authorization != "Bearer s3cret") { return 403; }
        }
        location /broken/ { return 500; }
        location /gone/ { return 410; }
        location /teapot/ { return 418; }
"""


@pytest.fixture
def files(tmp_path):
    root = tmp_path / "www"
    (root / "p1").mkdir(parents=True)
    (root / "p1" / "data.bin").write_bytes(DATA)
    (root / "private").mkdir()
    (root / "private" / "data.bin").write_bytes(DATA)
    return root


@pytest.fixture
def nginx(nginx_binary, files, tmp_path):
    with NginxServer(nginx_binary, files, EXTRA_CONFIG, tmp_path / "nginx") as server:
        yield server


@pytest.fixture
def location(nginx):
    return HttpLocation("remote", url=nginx.url + "/{key}", timeout=30, connect_timeout=10)


def read(stream) -> bytes:
    with stream:
        return b"".join(stream)


# Against a real nginx


def test_a_gone_file_is_not_found(location):
    with pytest.raises(StorageFileNotFound):
        location.open("gone/data.bin")


@pytest.mark.parametrize("key", ["broken/data.bin", "teapot/data.bin"])
def test_a_server_error_or_unexpected_status_is_unavailable(location, key):
    with pytest.raises(StorageUnavailable, match="HTTP"):
        location.stat(key)
    with pytest.raises(StorageUnavailable, match="HTTP"):
        location.open(key)


def test_a_range_the_server_cannot_satisfy_is_unavailable_with_its_status(location):
    with pytest.raises(StorageUnavailable, match="416"):
        location.open("p1/data.bin", len(DATA) + 10)


def test_a_stopped_server_is_unavailable(location, nginx):
    nginx.stop()
    with pytest.raises(StorageUnavailable):
        location.stat("p1/data.bin")
    with pytest.raises(StorageUnavailable):
        location.open("p1/data.bin")


def test_configured_headers_reach_the_server(nginx):
    url = nginx.url + "/{key}"
    with_token = HttpLocation("r", url=url, headers={"Authorization": "Bearer s3cret"})
    assert with_token.stat("private/data.bin") == len(DATA)
    assert read(with_token.open("private/data.bin", 10, 5)) == DATA[10:15]
    without_token = HttpLocation("r", url=url)
    with pytest.raises(StorageUnavailable, match="403"):
        without_token.open("private/data.bin")


@pytest.mark.parametrize("key", ["", "../x", "/etc/passwd", "a/../../x", "a\x00b", "a\\b"])
@pytest.mark.parametrize("evict_url", ["http://127.0.0.1:9/{key}", None])
def test_keys_that_could_escape_are_refused_without_a_request(key, evict_url):
    # Nothing listens on port 9: a request would fail as StorageUnavailable instead.
    location = HttpLocation(
        "r",
        url="http://127.0.0.1:9/{key}",
        tier="nearline",
        restore_url="http://127.0.0.1:9/restore/{key}",
        evict_url=evict_url,
    )
    actions = (location.stat, location.open, location.is_cached, location.restore, location.evict)
    for action in actions:
        with pytest.raises(InvalidKey):
            action(key)


def test_accel_path_quotes_the_key_twice_and_carries_the_range(location):
    # nginx unquotes the X-Accel-Redirect URI once; what it captures for proxy_pass must
    # still be quoted.
    assert location.accel_path("p1/data.bin") == "/_storage/remote/p1/data.bin"
    assert location.accel_path("a b/%?#.bin") == "/_storage/remote/a%2520b/%2525%253F%2523.bin"
    assert (
        location.accel_path("p1/data.bin", 0, 10) == "/_storage/remote/p1/data.bin?range=bytes=0-9"
    )
    assert location.accel_path("p1/data.bin", 5) == "/_storage/remote/p1/data.bin?range=bytes=5-"
    tape = HttpLocation("tape", url="http://h/{key}", tier="nearline", restore_url="http://h/{key}")
    assert tape.accel_path("p1/data.bin") == "/_storage/tape-cache/p1/data.bin"
    with pytest.raises(InvalidKey):
        location.accel_path("../etc/passwd")


def test_nginx_proxies_the_accel_path_of_tricky_names_and_ranges_to_the_storage(
    nginx_binary, nginx, files, location, tmp_path
):
    for name in TRICKY_NAMES:
        (files / "p1" / name).write_bytes(name.encode() * 100)
    (tmp_path / "front-www").mkdir()
    backend = _AccelBackend()
    extra = f"""
        location /app/ {{ proxy_pass http://127.0.0.1:{backend.port}; }}
        location ~ ^/_storage/remote/(.*)$ {{
            internal;
            proxy_pass {nginx.url}/$1;
            proxy_pass_request_headers off;
            proxy_set_header Range $arg_range;
        }}
    """
    with (
        backend,
        NginxServer(nginx_binary, tmp_path / "front-www", extra, tmp_path / "front") as front,
    ):
        for name in TRICKY_NAMES:
            backend.accel = location.accel_path(f"p1/{name}")
            response = requests.get(front.url + "/app/download", timeout=30)
            assert response.status_code == 200, (name, front.logs())
            assert response.content == name.encode() * 100
        backend.accel = location.accel_path("p1/data.bin", 10, 5)
        response = requests.get(front.url + "/app/download", timeout=30)
        assert (response.status_code, response.content) == (206, DATA[10:15])
        assert response.headers["Content-Range"] == f"bytes 10-14/{len(DATA)}"
        # The internal location is not reachable from outside.
        outside = requests.get(front.url + "/_storage/remote/p1/data.bin", timeout=30)
        assert outside.status_code == 404


def test_an_http_location_has_no_local_path(location):
    assert location.local_path("p1/data.bin") is None


def test_an_http_location_is_online_only():
    with pytest.raises(ValueError, match="online"):
        HttpLocation("r", url="http://example.org/{key}", tier="nearline")


def test_the_url_must_hold_the_key():
    with pytest.raises(ValueError, match="key"):
        HttpLocation("r", url="http://example.org/file")


# Against servers nginx cannot imitate


def test_a_server_ignoring_range_still_gives_the_right_bytes():
    with _RangeIgnoringServer(DATA) as server:
        location = HttpLocation("r", url=server.url + "/{key}")
        assert read(location.open("f.bin", 100, 50)) == DATA[100:150]
        assert read(location.open("f.bin", 5000)) == DATA[5000:]
        assert read(location.open("f.bin", len(DATA) - 1, 1)) == DATA[-1:]
        with pytest.raises(StorageUnavailable):
            location.open("f.bin", len(DATA) - 1, 2)
        with pytest.raises(StorageUnavailable):
            location.open("f.bin", len(DATA) + 1)


def test_a_truncated_body_is_unavailable_during_iteration():
    def answer(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)

    with _RawServer(answer) as server:
        location = HttpLocation("r", url=server.url + "/{key}")
        stream = location.open("f.bin")
        with pytest.raises(StorageUnavailable):
            b"".join(stream)
        assert stream.closed


def test_a_truncated_range_is_unavailable_during_iteration():
    def answer(conn):
        conn.sendall(
            b"HTTP/1.1 206 Partial Content\r\nContent-Length: 100\r\n"
            b"Content-Range: bytes 10-109/1000\r\n\r\n" + b"x" * 10
        )

    with _RawServer(answer) as server:
        location = HttpLocation("r", url=server.url + "/{key}")
        stream = location.open("f.bin", 10, 100)
        with pytest.raises(StorageUnavailable):
            b"".join(stream)


def test_a_server_that_never_answers_times_out_as_unavailable():
    with socket.socket() as listener:
        # Listening but never accepting: the kernel completes the handshake, nobody answers.
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/{{key}}"
        location = HttpLocation("r", url=url, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            location.open("f.bin")
        with pytest.raises(StorageUnavailable):
            location.stat("f.bin")
        assert time.monotonic() - started < 5


def test_error_messages_do_not_reveal_the_url(nginx):
    location = HttpLocation("r", url=nginx.url + "/{key}?token=hunter2")
    nginx.stop()
    with pytest.raises(StorageUnavailable) as error:
        location.open("p1/data.bin")
    assert "hunter2" not in str(error.value)


class _RangeIgnoringServer:
    """Answers every GET with 200 and the whole body, as some servers do."""

    def __init__(self, body: bytes):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()


class _RawServer:
    """Reads one request per connection, lets `answer` write raw bytes, then hangs up."""

    def __init__(self, answer):
        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # listener closed
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    data = conn.recv(4096)
                    if not data:
                        break
                    request += data
                self.answer(conn)

    def __enter__(self):
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        # shutdown() wakes the thread blocked in accept(); close() alone would not.
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
