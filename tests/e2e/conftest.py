"""The production server for end-to-end tests: a real gunicorn on the test database."""

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

ROOT = pathlib.Path(__file__).resolve().parents[2]


def database_url():
    """The test database, for a server running in another process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = quote(db["USER"] or "")
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


@pytest.fixture
def gunicorn(storage, tmp_path):
    """The URL of a gunicorn (gunicorn.conf.py, two workers) serving the app on the test
    database, with the `storage` fixture's online folder as its one location."""
    config = tmp_path / "storage.json"
    online = storage.root / "online"
    online.mkdir(parents=True, exist_ok=True)
    config.write_text(
        json.dumps({"locations": {"online": {"backend": "local", "root": str(online)}}})
    )
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "STORAGE_CONFIG": str(config),
        "VAR_DIR": str(tmp_path / "var"),
        "PORT": str(port),
        # Two workers: quota exactness must hold between processes, not only threads.
        "WORKERS": "2",
        "THREADS": "4",
    }
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "regards_catalog.wsgi"]
    ready = functools.partial(answers_http, url + "/api/v1/rs-catalog/licenses")
    with running(
        command, ready=ready, log=tmp_path / "gunicorn.log", name="gunicorn", cwd=ROOT, env=env
    ):
        yield url
