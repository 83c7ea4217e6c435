"""The bench environment: temporary folders, database, nginx, catalog and users, set up once
and shared by the benchmarks, and torn down whatever happens."""

import contextlib
import importlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

from bench.config import API, DB_NAME, POSTGRES_URL
from bench.data import (
    LOAD_USERS,
    catalog_document,
    create_user,
    download_records_generate,
    files_store,
    products_generate,
)
from bench.load import ensure_wrk
from bench.postgres import create_database, drop_database, postgres_description
from bench.servers import Gunicorn, nginx_binary, offload_proxy
from bench.timing import log
from tests.nginx import NginxServer


class Bench:
    """Temporary folders, database, nginx, catalog and users shared by the benchmarks."""

    def __init__(self, sizes, selected, keep):
        self.sizes, self.selected, self.keep = sizes, selected, keep
        self.tmp = Path(tempfile.mkdtemp(prefix="regards-bench-"))
        self.online = self.tmp / "storage" / "online"
        self.logs = self.tmp / "logs"
        self.files = {}
        self.products = {}  # name → product URN
        self.tokens = {}  # user email → API token
        self.nginx = None
        self.wrk = None
        self.postgres = "not measured"
        self.products_load_seconds = 0.0
        self.records_load_seconds = 0.0
        self.load_before = os.getloadavg()
        self.stack = contextlib.ExitStack()

    # Setup

    def setup(self):
        self.online.mkdir(parents=True)
        self.logs.mkdir()
        self._start_nginx()
        create_database()
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "regards_catalog.settings",
                "DATABASE_URL": f"{POSTGRES_URL}/{DB_NAME}",
                "VAR_DIR": str(self.tmp / "var"),
                "STORAGE_CONFIG": str(self._write_storage_config()),
                "SECRET_KEY": "bench-secret-key",
                "DEBUG": "false",
                "TOKEN_TTL_HOURS": "24",
            }
        )
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        # Import every view now: the in-process captures below then run the code of the start
        # of the run, like the gunicorn servers, even if someone edits the tree meanwhile.
        importlib.import_module(settings.ROOT_URLCONF)

        log("migrating the bench database")
        call_command("migrate", verbosity=0, interactive=False)
        self.postgres = postgres_description()
        self._store_files()
        self._load_catalog()
        self._create_users()
        if {"search", "stac"} & set(self.selected):
            self.products_load_seconds = products_generate(self.sizes.products)
        if "usage" in self.selected:
            self.records_load_seconds = download_records_generate(self.sizes.download_records)
        if "small" in self.selected:
            self.wrk = ensure_wrk()
        self.close_db()

    def _start_nginx(self):
        self.nginx = NginxServer(nginx_binary(), self.online, workdir=self.tmp / "nginx")
        self.stack.callback(self.nginx.stop)
        self.nginx.start()
        log(f"nginx serves {self.online} at {self.nginx.url}")

    def _write_storage_config(self):
        config = {
            "locations": {
                "online": {"backend": "local", "root": str(self.online), "tier": "online"},
                "remote": {"backend": "http", "url": self.nginx.url + "/{key}", "tier": "online"},
                "remote-unchecked": {
                    "backend": "http",
                    "url": self.nginx.url + "/{key}",
                    "tier": "online",
                    "verify": False,
                },
            }
        }
        path = self.tmp / "storage.json"
        path.write_text(json.dumps(config, indent=2))
        return path

    def _store_files(self):
        wanted = {"small": self.sizes.small_file}
        if {"throughput", "memory"} & set(self.selected):
            wanted["big"] = self.sizes.big_file
        self.files = files_store(wanted, folder=self.online, scratch=self.tmp)

    def _load_catalog(self):
        from django.core.management import call_command

        document, self.products = catalog_document(self.files)
        path = self.tmp / "catalog.json"
        path.write_text(json.dumps(document, indent=1))
        call_command("load_catalog", str(path), stdout=io.StringIO())

    def _create_users(self):
        """Users in group `science` with the licence accepted; one with maxQuota for bench 5."""
        from products.models import License

        license = License.objects.get(slug="bench-licence")
        limits = {"small@bench.example": -1, "quota@bench.example": self.sizes.max_quota}
        if "small" in self.selected:
            limits |= {email: -1 for email in LOAD_USERS}
        for email, max_quota in limits.items():
            self.tokens[email] = create_user(email, license, max_quota)

    def close_db(self):
        """Close this process's database connections (before a server or a DROP needs them)."""
        from django.apps import apps
        from django.db import connections

        if apps.ready:
            connections.close_all()

    def teardown(self):
        self.close_db()
        self.stack.close()
        if self.keep:
            log(f"kept {self.tmp} and database {DB_NAME}")
            return
        with contextlib.suppress(Exception):
            drop_database()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # Helpers for the benchmarks

    def catalog_server(self, *, workers, threads, env=None):
        return Gunicorn(
            "catalog", "regards_catalog.wsgi", self.logs, workers=workers, threads=threads, env=env
        )

    def offload_proxy(self, app):
        """nginx in front of `app`, sending local files and those of `remote-unchecked` itself
        (X-Accel-Redirect, README)."""
        return offload_proxy(app.url, self.online, self.nginx.url, self.tmp / "nginx-proxy")

    def bare_server(self, *, workers, threads):
        env = {"BARE_FILE": str(self.files["small"].path)}
        return Gunicorn(
            "bare", "bench.bare_app", self.logs, workers=workers, threads=threads, env=env
        )

    def floor_server(self, *, workers, threads):
        env = {"FLOOR_FILE": str(self.files["small"].path)}
        return Gunicorn(
            "floor", "bench.floor_app", self.logs, workers=workers, threads=threads, env=env
        )

    def download_path(self, product):
        checksum = self.files[product.split("-")[0]].checksum
        return f"{API}/downloads/{self.products[product]}/files/{checksum}"

    def auth(self, email):
        return {"Authorization": f"Bearer {self.tokens[email]}"}
