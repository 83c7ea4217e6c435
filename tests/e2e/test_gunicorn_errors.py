"""Requests gunicorn refuses itself, before Django sees them, answered in the API's JSON
error shape (gunicorn.conf.py replaces gunicorn's HTML error page)."""

import http.client
import socket
import types
from urllib.parse import urlsplit

import pytest

from tests.helpers import assert_api_error
from tests.processes import DEADLINE, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

KB = 1024


def request(target=b"/api/v1/rs-catalog/licenses", headers=b"", line=None):
    line = line or b"GET " + target + b" HTTP/1.1"
    return line + b"\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n"


# What each request gets: (status, code). gunicorn's limits are its defaults: a request
# line of 4094 bytes, 100 header fields of 8190 bytes each.
REFUSED = [
    (request(target=b"/api/v1/" + b"a" * 10 * KB), 414, "uri_too_long"),
    (request(headers=b"X-Big: " + b"a" * 10 * KB + b"\r\n"), 431, "headers_too_large"),
    (request(headers=b"X-Many: 1\r\n" * 200), 431, "headers_too_large"),
    (request(line=b"NOT A REQUEST LINE"), 400, "invalid_request"),
    (request(headers=b"Content-Length: -1\r\n"), 400, "invalid_request"),
]


def exchange(url, raw_request):
    """gunicorn's answer to `raw_request`, sent as is on a fresh connection."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=DEADLINE) as sock:
        sock.sendall(raw_request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        content = response.read()
    return types.SimpleNamespace(
        status_code=response.status, headers=response.headers, content=content
    )


def test_requests_gunicorn_refuses_are_answered_in_the_api_json_shape(gunicorn):
    # One server for every case: each start takes seconds.
    for raw_request, status, code in REFUSED:
        response = exchange(gunicorn, raw_request)

        body = assert_api_error(response, status, code)
        assert set(body) == {"code", "message", "messages"}
        assert response.headers["Connection"] == "close"


def test_a_token_in_a_refused_request_line_is_masked_in_gunicorn_s_log(gunicorn, tmp_path):
    line = b"GET /api/v1/rs-catalog/licenses?token=SECRET-TOKEN-42"  # no HTTP version

    assert_api_error(exchange(gunicorn, request(line=line)), 400, "invalid_request")

    (log,) = tmp_path.glob("gunicorn-*.log")
    wait_until(lambda: "token=***" in log.read_text(), message="the refusal in gunicorn's log")
    assert "SECRET-TOKEN-42" not in log.read_text()
