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


@pytest.fixture
def start_gunicorn(storage, tmp_path):
    """start_gunicorn(locations=None, **environment) → the URL of gunicorn.conf.py serving
    the app, with the `online` location of `storage` and any other `locations` (their
    STORAGE_CONFIG entries); stopped at the end of the test. Two workers unless WORKERS
    says otherwise: quota exactness must hold between processes, not only threads.
    """
    online = storage.root / "online"
    online.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as servers:

        def start(locations=None, **environment):
            port = free_port()
            config = tmp_path / f"storage-{port}.json"
            locations = {"online": {"backend": "local", "root": str(online)}, **(locations or {})}
            config.write_text(json.dumps({"locations": locations}))
            env = {
                **os.environ,
                "DATABASE_URL": database_url(),
                "STORAGE_CONFIG": str(config),
                "VAR_DIR": str(tmp_path / "var"),
                "PORT": str(port),
                "WORKERS": "2",
                **environment,
            }
            url = f"http://127.0.0.1:{port}"
            command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
            ready = functools.partial(answers_http, url + "/api/v1/rs-catalog/licenses")
            log = tmp_path / f"gunicorn-{port}.log"
            servers.enter_context(
                running(
                    [*command, "regards_catalog.wsgi"],
                    ready=ready,
                    log=log,
                    name="gunicorn",
                    cwd=ROOT,
                    env=env,
                )
            )
            return url

        yield start


@pytest.fixture
def gunicorn(start_gunicorn):
    return start_gunicorn(THREADS="4")
