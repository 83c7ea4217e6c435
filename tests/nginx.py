"""A real nginx for tests: serves a folder, with optional extra `location` blocks."""

import grp
import os
import pathlib
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

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
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root "{root}";
{extra_config}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NginxServer:
    """nginx serving `root` at `/` (with Range), run in the foreground from a private folder.

    `extra_config` is pasted inside the `server` block, e.g.
    `location /slow/ { limit_rate 50k; }`.
    """

    def __init__(self, binary: str, root, extra_config: str = "", workdir=None):
        self.binary = binary
        self.root = pathlib.Path(root).absolute()
        self.extra_config = extra_config
        self._own_workdir = workdir is None
        self.workdir = pathlib.Path(workdir or tempfile.mkdtemp(prefix="nginx-")).absolute()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self, timeout: float = 10) -> "NginxServer":
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
            )
        )
        error_log = self.workdir / "error.log"
        with open(self.workdir / "stderr.log", "wb") as stderr:
            self.process = subprocess.Popen(
                [self.binary, "-p", str(self.workdir), "-c", str(config)]
                + ["-e", str(error_log), "-g", "daemon off;"],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + timeout
        while not _accepts_connections(self.port):
            if self.process.poll() is not None:
                self._fail("nginx exited at start")
            if time.monotonic() > deadline:
                self._fail(f"nginx not listening after {timeout}s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _fail(self, message: str):
        logs = self.logs()  # before stop(), which may delete them
        self.stop()
        raise RuntimeError(f"{message}:\n{logs}")

    def logs(self) -> str:
        parts = []
        for name in ("stderr.log", "error.log"):
            path = self.workdir / name
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def __enter__(self) -> "NginxServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


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
