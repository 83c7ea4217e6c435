"""The JSON schemas the STAC validators fetch, served offline from tests/e2e/stac_schemas/.

The validators (stac-api-validator, stac-validator, stac-check, pystac) fetch their schemas
from https://schemas.stacspec.org, https://stac-extensions.github.io, https://geojson.org…,
each library in its own way (requests, urllib, a jsonschema registry). Rather than patch
each of them, the test runs them unmodified behind an HTTP proxy, as a client behind a
company proxy runs: `HTTPS_PROXY` sends every https fetch to `SchemaProxy`, which ends the
TLS tunnel itself with a certificate the validators trust through `REQUESTS_CA_BUNDLE` and
`SSL_CERT_FILE`, and answers from the vendored copies (the URL's host, then its path). The
test's own server is reached directly (`NO_PROXY`). A URL with no vendored copy is a 404
and is recorded in `misses`, so that a test can say which schema is missing instead of
validating less.
"""

import http.server
import os
import pathlib
import shutil
import socketserver
import ssl
import subprocess
import threading
from urllib.parse import urlsplit

import pytest

SCHEMAS = pathlib.Path(__file__).resolve().parent / "stac_schemas"
# The hosts the certificate names: every host the vendored schemas come from.
HOSTS = sorted(path.name for path in SCHEMAS.iterdir() if path.is_dir())


def openssl_binary():
    binary = shutil.which("openssl")
    if binary is None:
        if os.environ.get("REQUIRE_EXTERNALS") == "1":
            pytest.fail("openssl not installed, and REQUIRE_EXTERNALS=1 forbids skipping")
        pytest.skip("openssl not installed (needed to serve the STAC schemas offline)")
    return binary


def make_certificate(folder):
    """A self-signed certificate (its own CA) for HOSTS: (certificate path, key path)."""
    cert, key = folder / "schemas-ca.pem", folder / "schemas-key.pem"
    names = ",".join(f"DNS:{host}" for host in HOSTS)
    subprocess.run(
        [
            openssl_binary(),
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=offline STAC schemas (tests)",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-addext",
            f"subjectAltName={names}",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,digitalSignature,keyCertSign",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    tunnel_host = None  # set once a CONNECT tunnel is open

    def do_CONNECT(self):
        host = self.path.rsplit(":", 1)[0]
        if host not in HOSTS:  # no vendored schema, nor a certificate, for this host
            self.server.misses.append(f"https://{host}/…")
            self.send_error(502, "no vendored schemas for this host")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        tls = self.server.tls.wrap_socket(self.connection, server_side=True)
        self.connection = tls
        self.rfile = tls.makefile("rb")
        self.wfile = tls.makefile("wb", buffering=0)
        self.tunnel_host = host
        self.close_connection = False
        while not self.close_connection:
            self.handle_one_request()

    def do_GET(self):
        url = f"https://{self.tunnel_host}{self.path}" if self.tunnel_host else self.path
        parts = urlsplit(url)
        path = (SCHEMAS / parts.hostname / parts.path.lstrip("/")).resolve()
        if SCHEMAS not in path.parents or not path.is_file():
            self.server.misses.append(url)
            body, status = b'{"error": "no vendored copy"}', 404
        else:
            self.server.served.append(url)
            body, status = path.read_bytes(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass  # the record is `served` and `misses`


class SchemaProxy(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def __init__(self, folder):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.cert, key = make_certificate(folder)
        self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.tls.load_cert_chain(self.cert, key)
        self.served, self.misses = [], []

    def environment(self):
        """What a validator process needs to fetch its schemas here, and nothing else."""
        proxy = f"http://127.0.0.1:{self.server_address[1]}"
        return {
            "HTTPS_PROXY": proxy,
            "HTTP_PROXY": proxy,
            "https_proxy": proxy,
            "http_proxy": proxy,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "REQUESTS_CA_BUNDLE": str(self.cert),
            "SSL_CERT_FILE": str(self.cert),
        }

    def __enter__(self):
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self.shutdown()
        self.server_close()
        self._thread.join()
