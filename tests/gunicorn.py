"""A real gunicorn, with the production config, serving the app on the test database
(the e2e and browser tests)."""

import contextlib
import functools
import json
import os
import pathlib
import sys
from urllib.parse import quote

import pytest
from django.db import connection

from tests.nginx import free_port
from tests.processes import answers_http, running

ROOT = pathlib.Path(__file__).resolve().parents[1]


def database_url():
    """The test database, for a server running in another process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = quote(db["USER"] or "")
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


@contextlib.contextmanager
def gunicorn_serving(storage_root, folder, locations=None, **environment):
    """gunicorn.conf.py serving the app on the test database until the with-block ends;
    gives its URL. Its `online` location is storage_root/online, beside any other
    `locations` (their STORAGE_CONFIG entries); its config and log are written in `folder`.
    Two workers unless WORKERS says otherwise: quota exactness must hold between processes,
    not only threads."""
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
    with running(command, ready=ready, log=log, name="gunicorn", cwd=ROOT, env=env):
        yield url


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
