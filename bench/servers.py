"""The servers a benchmark starts: gunicorn (catalog or bare app) and nginx."""

import contextlib
import os
import shutil
import signal
import subprocess

from bench.client import http_get
from bench.config import BIN, ROOT
from bench.processes import child_pids
from bench.results import BenchError
from bench.timing import log, wait_until
from tests.nginx import NginxServer, free_port

READY_SECONDS = 60
STOP_SECONDS = 30


def nginx_binary():
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(binary, os.X_OK):
        raise BenchError("nginx is not installed (apt-get install nginx)")
    return binary


def offload_proxy(app_url, online, storage_url, workdir):
    """nginx in front of `app_url`, sending local files itself, and those of the unchecked
    http location `remote-unchecked` from `storage_url` (X-Accel-Redirect, README)."""
    config = f"""
        location /_storage/online/ {{ internal; alias {online}/; etag off; }}
        location ~ ^/_storage/remote-unchecked/(.*)$ {{
            internal;
            set $file_etag $upstream_http_etag;
            proxy_pass {storage_url}/$1;
            proxy_pass_request_headers off;
            proxy_set_header Range $arg_range;
            proxy_buffers 4 1m;
            proxy_max_temp_file_size 0;
            proxy_intercept_errors on;
            proxy_hide_header ETag;
            add_header ETag $file_etag;
        }}
        location /api/ {{
            proxy_pass {app_url};
            proxy_set_header Host $host;
            proxy_buffering off;
        }}"""
    return NginxServer(nginx_binary(), online, extra_config=config, workdir=workdir)


class Gunicorn:
    """gunicorn with the project's gunicorn.conf.py, WORKERS/THREADS/PORT from the env."""

    def __init__(self, name, app, logs, *, workers, threads, env=None):
        self.name, self.app = name, app
        self.workers, self.threads = workers, threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = logs / f"gunicorn-{name}-{self.port}.log"
        self.env = {
            **os.environ,
            **(env or {}),
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WORKERS": str(workers),
            "THREADS": str(threads),
        }
        self.process = None

    def __enter__(self):
        log(f"starting gunicorn {self.name} ({self.workers} workers × {self.threads} threads)")
        with open(self.log_path, "wb") as output:
            # Its own process group: if the master must be killed, its workers go with it.
            self.process = subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", self.app],
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            if not wait_until(self._ready, timeout=READY_SECONDS):
                raise BenchError(
                    f"gunicorn {self.name} not ready after {READY_SECONDS} s:\n{self.log_tail()}"
                )
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def _ready(self):
        """Answering HTTP with all its workers forked; BenchError if it has exited."""
        if self.process.poll() is not None:
            raise BenchError(f"gunicorn {self.name} exited:\n{self.log_tail()}")
        try:
            http_get(self.url + "/", timeout=2)
        except OSError:
            return False
        return len(self.worker_pids()) >= self.workers

    def worker_pids(self):
        return child_pids(self.process.pid)

    def log_tail(self, lines=30):
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
