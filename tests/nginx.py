"""A real nginx for tests: serves a folder, with optional extra `location` blocks."""

import contextlib
import functools
import grp
import os
import pathlib
import pwd
import re
import shutil
import socket
import tempfile

import pytest

from tests.processes import accepts_connections, running, wait_until

CONFIG = """\
{user}
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {workdir}/access.log;
    client_body_temp_path {workdir}/client_body;
    proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi;
    uwsgi_temp_path {workdir}/uwsgi;
    scgi_temp_path {workdir}/scgi;
    default_type application/octet-stream;
    sendfile on;
{http_config}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root "{root}";
{extra_config}
    }}
}}
"""


def documented_block(document: pathlib.Path, opening: str) -> str:
    """The nginx block of a Markdown `document` that opens with the line `opening` (such as
    `location / {`) and ends at the first `}` alone on a line: tests run the configuration
    the documentation shows, so the two cannot drift apart."""
    text = pathlib.Path(document).read_text()
    block = re.search(rf"^{re.escape(opening)}\n.*?^\}}$", text, re.MULTILINE | re.DOTALL)
    assert block, f"no block opening with {opening!r} in {document}"
    return block[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NginxServer:
    """nginx serving `root` at `/` (with Range), run in the foreground from a private folder.

    `extra_config` is pasted inside the `server` block, e.g.
    `location /slow/ { limit_rate 50k; }`, and `http_config` beside it in the `http`
    block, e.g. an `upstream`.
    """

    def __init__(self, binary: str, root, extra_config: str = "", workdir=None, *, http_config=""):
        self.binary = binary
        self.root = pathlib.Path(root).absolute()
        self.extra_config = extra_config
        self.http_config = http_config
        self._own_workdir = workdir is None
        self.workdir = pathlib.Path(workdir or tempfile.mkdtemp(prefix="nginx-")).absolute()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._running = contextlib.ExitStack()

    def start(self) -> "NginxServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "nginx.conf"
        config.write_text(
            CONFIG.format(
                # Run as root, nginx would hand its workers to "nobody", who cannot read
                # pytest's private temporary folders.
                user=_user_directive(),
                workdir=self.workdir,
                port=self.port,
                root=self.root,
                extra_config=self.extra_config,
                http_config=self.http_config,
            )
        )
        error_log = self.workdir / "error.log"
        command = [self.binary, "-p", str(self.workdir), "-c", str(config)]
        command += ["-e", str(error_log), "-g", "daemon off;"]
        ready = functools.partial(accepts_connections, self.port)
        self._running.enter_context(running(command, ready=ready, log=error_log, name="nginx"))
        return self

    def stop(self) -> None:
        self._running.close()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def access_log(self) -> list[str]:
        """The access log's lines so far; nginx writes one only after its response is sent."""
        return (self.workdir / "access.log").read_text().splitlines()

    def wait_for_access_log(self, text: str) -> list[str]:
        """The access log's lines, once one of them holds `text`."""

        def lines_once_there():
            lines = self.access_log()
            return lines if any(text in line for line in lines) else None

        return wait_until(
            lines_once_there, message=lambda: f"{text!r} in the access log {self.access_log()}"
        )

    def logs(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> "NginxServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _user_directive() -> str:
    if os.geteuid() != 0:
        return ""
    user = pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(os.getegid()).gr_name
    return f"user {user} {group};"


@pytest.fixture(scope="session")
def nginx_binary() -> str:
    binary = shutil.which("nginx")
    if binary is None and os.access("/usr/sbin/nginx", os.X_OK):
        binary = "/usr/sbin/nginx"
    if binary is None:
        if os.environ.get("REQUIRE_EXTERNALS") == "1":
            pytest.fail("nginx not installed, and REQUIRE_EXTERNALS=1 forbids skipping")
        pytest.skip("nginx not installed")
    return binary


@pytest.fixture
def nginx_server(nginx_binary, tmp_path):
    """nginx serving tmp_path/"nginx_root" at its `url`; put files there before reading them."""
    root = tmp_path / "nginx_root"
    root.mkdir()
    with NginxServer(nginx_binary, root, workdir=tmp_path / "nginx") as server:
        yield server
