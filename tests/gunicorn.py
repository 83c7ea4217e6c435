"""A real gunicorn, with the production config, serving the app on the test database
(the e2e and browser tests)."""

import contextlib
import dataclasses
import functools
import json
import os
import pathlib
import re
import sys
from urllib.parse import quote

import psutil
import pytest
from django.db import connection

from tests.nginx import free_port
from tests.processes import ProcessGroup, answers_http, running

ROOT = pathlib.Path(__file__).resolve().parents[1]
# A request in gunicorn.conf.py's access_log_format: `"GET /path HTTP/1.0" 200 …`.
ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) ')


def database_url():
    """The test database, for a server running in another process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = quote(db["USER"] or "")
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


@dataclasses.dataclass
class GunicornInstance:
    """A running gunicorn_instance: where it listens, the environment it runs with (for a
    command beside it, such as process_restores), its log and its process group."""

    url: str
    environment: dict
    log: pathlib.Path
    process: ProcessGroup

    @property
    def port(self) -> int:
        return int(self.environment["PORT"])

    def answered(self, path_prefix) -> list[int]:
        """The statuses of the requests under `path_prefix` it has answered, from its access
        log (gunicorn.conf.py's format; a line is written once its response is sent)."""
        lines = ACCESS_LINE.finditer(self.log.read_text(errors="replace"))
        return [int(line["status"]) for line in lines if line["path"].startswith(path_prefix)]

    def streaming(self) -> bool:
        """Whether one of its workers holds a client connection right now."""
        return any(
            sock.status == psutil.CONN_ESTABLISHED and sock.laddr.port == self.port
            for worker in psutil.Process(self.process.pid).children()
            for sock in worker.net_connections(kind="tcp")
        )

    def kill(self) -> None:
        """SIGKILL its master and workers at once, as if its host died."""
        self.process.kill_group()


@contextlib.contextmanager
def gunicorn_instance(storage_root, folder, locations=None, **environment):
    """gunicorn.conf.py serving the app on the test database until the with-block ends;
    gives its GunicornInstance. Its `online` location is storage_root/online, beside any
    other `locations` (their STORAGE_CONFIG entries); its config and log are written in
    `folder`. Two workers unless WORKERS says otherwise: quota exactness must hold between
    processes, not only threads."""
    online = pathlib.Path(storage_root) / "online"
    online.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = folder / f"storage-{port}.json"
    locations = {"online": {"backend": "local", "root": str(online)}, **(locations or {})}
    config.write_text(json.dumps({"locations": locations}))
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "STORAGE_CONFIG": str(config),
        "VAR_DIR": str(folder / "var"),
        "PORT": str(port),
        "WORKERS": "2",
        **environment,
    }
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "regards_catalog.wsgi"]
    ready = functools.partial(answers_http, url + "/api/v1/rs-catalog/licenses")
    log = folder / f"gunicorn-{port}.log"
    with running(command, ready=ready, log=log, name="gunicorn", cwd=ROOT, env=env) as process:
        yield GunicornInstance(url, env, log, process)


@contextlib.contextmanager
def gunicorn_serving(storage_root, folder, locations=None, **environment):
    """A gunicorn_instance (same arguments); gives its URL."""
    with gunicorn_instance(storage_root, folder, locations, **environment) as instance:
        yield instance.url


@pytest.fixture
def start_gunicorn(storage, tmp_path):
    """start_gunicorn(locations=None, **environment) → the URL of a gunicorn_serving the
    `online` location of `storage` and any other `locations`; stopped at the end of the
    test."""
    with contextlib.ExitStack() as servers:

        def start(locations=None, **environment):
            serving = gunicorn_serving(storage.root, tmp_path, locations, **environment)
            return servers.enter_context(serving)

        yield start


@pytest.fixture
def gunicorn(start_gunicorn):
    return start_gunicorn(THREADS="4")
