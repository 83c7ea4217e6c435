"""The benchmarks of SPEC §7, measured as ratios against baselines taken in the same run.

    .venv/bin/python bench/run.py [--quick] [--only NAME[,NAME…]] [--keep]

NAME is one of throughput, memory, small, search, quota. The run uses a fresh PostgreSQL
database `regards_bench` (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432),
a temporary VAR_DIR and STORAGE_CONFIG, an nginx serving the storage folder (both the
throughput baseline and the `remote` http location), and gunicorn with the project's
gunicorn.conf.py. It writes bench/report.md, prints it, and exits 1 if a target is missed.
"""

import argparse
import contextlib
import dataclasses
import datetime
import hashlib
import http.client
import importlib
import io
import json
import math
import multiprocessing
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.nginx import NginxServer, free_port  # noqa: E402 - needs ROOT on sys.path

BIN = ROOT / ".venv" / "bin"
REPORT = ROOT / "bench" / "report.md"
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "regards_bench"
BENCHMARKS = ("throughput", "memory", "small", "search", "quota")
API = "/api/v1/rs-catalog"
MiB = 1024 * 1024
KiB = 1024
PLATFORMS = (
    "SENTINEL-2A",
    "SENTINEL-2B",
    "LANDSAT-8",
    "LANDSAT-9",
    "SPOT-6",
    "SPOT-7",
    "PLEIADES-1A",
    "PLEIADES-1B",
)


@dataclasses.dataclass(frozen=True)
class Sizes:
    big_file: int
    products: int
    load_seconds: int
    search_requests: int = 200
    concurrent_downloads: int = 500
    max_quota: int = 100
    small_file: int = 10 * KiB
    rounds: int = 3  # best of, for throughput


FULL = Sizes(big_file=1024 * MiB, products=1_000_000, load_seconds=10)
QUICK = Sizes(big_file=256 * MiB, products=100_000, load_seconds=5)


@dataclasses.dataclass
class Target:
    """One SPEC §7 target: what was measured against what was wanted."""

    benchmark: str
    what: str
    measured: str
    wanted: str
    met: bool


@dataclasses.dataclass
class Outcome:
    """A benchmark's report section and its targets."""

    section: str
    targets: list[Target]


class BenchError(Exception):
    """Something the benchmark needs did not work (a server, a download, a tool)."""


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# Small tools --------------------------------------------------------------------------------


def shorten(text, width):
    return text if len(text) <= width else text[: width - 1] + "…"


def mib(n_bytes):
    return n_bytes / MiB


def percentile(values, fraction):
    """The nearest-rank percentile of `values` (fraction in 0..1)."""
    ordered = sorted(values)
    rank = max(0, math.ceil(fraction * len(ordered)) - 1)
    return ordered[rank]


def http_get(url, headers=None, timeout=120):
    """(status, body) of one GET on a fresh connection."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def write_random_file(path, size):
    """Write `size` bytes of random-looking content (one random MiB repeated); its MD5."""
    block = os.urandom(min(size, MiB))
    digest = hashlib.md5()
    with open(path, "wb") as file:
        remaining = size
        while remaining:
            chunk = block[: min(remaining, len(block))]
            file.write(chunk)
            digest.update(chunk)
            remaining -= len(chunk)
    return digest.hexdigest()


def machine_description():
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return f"{os.cpu_count()} × {cpu}, {memory:.0f} GiB RAM, Python {platform.python_version()}"


def tool_version(command):
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "absent"
    lines = (result.stdout + result.stderr).strip().splitlines()
    return " ".join(lines[0].split()[:3]) if lines else "unknown"


def nginx_binary():
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(binary, os.X_OK):
        raise BenchError("nginx is not installed (apt-get install nginx)")
    return binary


def ensure_wrk():
    """wrk's path, installing the Debian package if we can; None = use the Python client."""
    if shutil.which("wrk"):
        return shutil.which("wrk")
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing: apt-get install -y wrk")
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        if subprocess.run(install, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
            subprocess.run(install, capture_output=True)
    if shutil.which("wrk") is None:
        log("wrk unavailable: falling back to the multi-process Python client (slower)")
    return shutil.which("wrk")


# Processes: /proc ---------------------------------------------------------------------------


def child_pids(parent):
    """Pids whose parent is `parent` (gunicorn workers of a master), from /proc."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent:
            children.append(int(stat.parent.name))
    return sorted(children)


def rss_bytes(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * KiB
    raise BenchError(f"no VmRSS for process {pid}")


# PostgreSQL ---------------------------------------------------------------------------------


def admin_execute(*statements):
    import psycopg2

    connection = psycopg2.connect(f"{POSTGRES_URL}/postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def create_database():
    admin_execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)", f"CREATE DATABASE {DB_NAME}")


def drop_database():
    admin_execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def postgres_description():
    """Server settings that bound the download rate, and the median latency of a commit."""
    from django.db import connection

    with connection.cursor() as cursor:
        settings = {}
        for name in ("synchronous_commit", "fsync", "shared_buffers", "max_connections"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
        cursor.execute("CREATE TABLE bench_commit (n integer)")
        latencies = []
        for n in range(100):  # autocommit: each INSERT is one commit
            started = time.perf_counter()
            cursor.execute("INSERT INTO bench_commit VALUES (%s)", [n])
            latencies.append(time.perf_counter() - started)
        cursor.execute("DROP TABLE bench_commit")
    shown = ", ".join(f"{name}={value}" for name, value in settings.items())
    return f"{shown}; one-row INSERT+commit median {statistics.median(latencies) * 1000:.2f} ms"


# gunicorn -----------------------------------------------------------------------------------


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
            self.process = subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", self.app],
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def _wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise BenchError(f"gunicorn {self.name} exited:\n{self.log_tail()}")
            try:
                http_get(self.url + "/", timeout=2)
            except OSError as error:
                if time.monotonic() > deadline:
                    message = f"gunicorn {self.name} not answering:\n{self.log_tail()}"
                    raise BenchError(message) from error
                time.sleep(0.1)
                continue
            if len(self.worker_pids()) >= self.workers:
                return
            time.sleep(0.1)

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
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# The bench environment ----------------------------------------------------------------------


@dataclasses.dataclass
class StoredFile:
    checksum: str
    size: int
    path: Path


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
        if "search" in self.selected:
            load_products(self, self.sizes.products)
        if "small" in self.selected:
            self.wrk = ensure_wrk()
        self._close_db()

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
            }
        }
        path = self.tmp / "storage.json"
        path.write_text(json.dumps(config, indent=2))
        return path

    def _store_files(self):
        """Files written straight into the `online` folder under their MD5 (as store_file does)."""
        wanted = {"small": self.sizes.small_file}
        if {"throughput", "memory"} & set(self.selected):
            wanted["big"] = self.sizes.big_file
        for name, size in wanted.items():
            log(f"writing the {name} file ({mib(size):.2f} MiB)")
            scratch = self.tmp / f"{name}.part"
            checksum = write_random_file(scratch, size)
            path = self.online / checksum
            scratch.rename(path)
            self.files[name] = StoredFile(checksum, size, path)

    def _load_catalog(self):
        from django.core.management import call_command

        path = self.tmp / "catalog.json"
        path.write_text(json.dumps(catalog_document(self), indent=1))
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

    def _close_db(self):
        from django.apps import apps
        from django.db import connections

        if apps.ready:
            connections.close_all()

    def teardown(self):
        self._close_db()
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
        """nginx in front of `app`, sending local files itself (X-Accel-Redirect, README)."""
        config = f"""
        location /_storage/online/ {{ internal; alias {self.online}/; etag off; }}
        location /api/ {{
            proxy_pass {app.url};
            proxy_set_header Host $host;
            proxy_buffering off;
        }}"""
        workdir = self.tmp / "nginx-proxy"
        return NginxServer(nginx_binary(), self.online, extra_config=config, workdir=workdir)

    def bare_server(self, *, workers, threads):
        env = {"BARE_FILE": str(self.files["small"].path)}
        return Gunicorn(
            "bare", "bench.bare_app", self.logs, workers=workers, threads=threads, env=env
        )

    def download_path(self, product):
        checksum = self.files[product.split("-")[0]].checksum
        return f"{API}/downloads/{self.products[product]}/files/{checksum}"

    def auth(self, email):
        return {"Authorization": f"Bearer {self.tokens[email]}"}


def create_user(email, license, max_quota):
    """A user made by `manage.py add_user`, licence accepted, quota set; its API token."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from downloads import services

    output = io.StringIO()
    call_command("add_user", email, groups="science", stdout=output)
    user = get_user_model().objects.get(email=email)
    services.license_accept(user=user, license=license)
    quota = services.quota_for(user=user)
    services.quota_limits_set(quota=quota, max_quota=max_quota, rate_limit=-1, max_volume=-1)
    return output.getvalue().strip().splitlines()[-1]


def bench_urn(kind, name):
    return f"URN:{kind}:bench:{uuid.uuid5(uuid.NAMESPACE_URL, name)}:V1"


def catalog_document(bench):
    """Licence, groups, datasets and the few products the download benchmarks use."""
    open_data = bench_urn("AIP:DATASET", "open")
    licensed = bench_urn("AIP:DATASET", "licensed")
    archive = bench_urn("AIP:DATASET", "archive")
    full = {"metadata": "FULL_ACCESS", "files": "INHERITED_ACCESS"}
    products = []
    # name → (dataset, file, storage location)
    layout = {
        "big-local": (open_data, "big", "online"),
        "big-remote": (open_data, "big", "remote"),
        "small-remote": (open_data, "small", "remote"),
        "small-private": (licensed, "small", "online"),
    }
    for name, (dataset, file_name, storage) in layout.items():
        if file_name not in bench.files:
            continue
        stored = bench.files[file_name]
        urn = bench_urn("FEATURE:DATA", name)
        bench.products[name] = urn
        products.append(
            {
                "id": urn,
                "providerId": name,
                "dataset": dataset,
                "label": f"bench {name}",
                "files": [
                    {
                        "dataType": "RAWDATA",
                        "filename": f"{name}.bin",
                        "mimeType": "application/octet-stream",
                        "checksum": stored.checksum,
                        "digestAlgorithm": "MD5",
                        "filesize": stored.size,
                        "storage": storage,
                    }
                ],
            }
        )
    return {
        "licenses": [
            {"id": "bench-licence", "title": "Bench licence", "text": "Use freely.", "version": 1}
        ],
        "groups": [{"name": "public", "public": True}, {"name": "science"}],
        "datasets": [
            {"id": open_data, "label": "Open data", "access": [{"group": "public", **full}]},
            {
                "id": licensed,
                "label": "Licensed data",
                "license": "bench-licence",
                "access": [{"group": "science", **full}],
            },
            {"id": archive, "label": "Sentinel archive", "access": [{"group": "public", **full}]},
        ],
        "products": products,
    }


# Downloading --------------------------------------------------------------------------------


def timed_download(url, expected_size, headers=None):
    """Seconds to GET `url` to /dev/null (curl, else a Python reader); checks status and size."""
    headers = headers or {}
    if shutil.which("curl"):
        command = [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download} %{time_total}",
        ]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        result = subprocess.run(command + [url], capture_output=True, text=True, timeout=600)
        status, size, seconds = result.stdout.split()
        status, size, seconds = int(status), int(size), float(seconds)
    else:
        status, size, seconds = python_download(url, headers)
    if status != 200 or size != expected_size:
        raise BenchError(f"GET {url}: HTTP {status}, {size} bytes instead of {expected_size}")
    return seconds


def python_download(url, headers):
    parts = urlsplit(url)
    started = time.perf_counter()
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    connection.request("GET", parts.path, headers=headers)
    response = connection.getresponse()
    buffer, size = memoryview(bytearray(4 * MiB)), 0
    while count := response.readinto(buffer):
        size += count
    connection.close()
    return response.status, size, time.perf_counter() - started


def throughputs(paths, bench):
    """{name: [bytes/s per round]}; the paths take turns so that no one gets a warmer machine."""
    speeds = {name: [] for name in paths}
    for round_number in range(bench.sizes.rounds):
        for name, (url, size, headers) in paths.items():
            seconds = timed_download(url, size, headers)
            speeds[name].append(size / seconds)
            log(f"round {round_number + 1}: {name} {mib(size / seconds):.0f} MiB/s")
    return speeds


# 1. Throughput ------------------------------------------------------------------------------


NGINX = "nginx, the file directly"
LOCAL = "API, local location (gunicorn)"
REMOTE = "API, http location (relayed by Python)"
OFFLOADED = "API behind nginx, DOWNLOAD_OFFLOAD=nginx (informative)"


def bench_throughput(bench):
    big = bench.files["big"]
    offload = {"DOWNLOAD_OFFLOAD": "nginx"}
    with (
        bench.catalog_server(workers=2, threads=4) as app,
        bench.catalog_server(workers=2, threads=4, env=offload) as offloading,
        bench.offload_proxy(offloading) as proxy,
    ):
        paths = {
            NGINX: f"{bench.nginx.url}/{big.checksum}",
            LOCAL: app.url + bench.download_path("big-local"),
            REMOTE: app.url + bench.download_path("big-remote"),
            OFFLOADED: proxy.url + bench.download_path("big-local"),
        }
        speeds = throughputs({name: (url, big.size, None) for name, url in paths.items()}, bench)
    best = {name: max(values) for name, values in speeds.items()}
    ratio = {name: best[name] / best[NGINX] for name in speeds}
    rows = [
        f"| {name} | {mib(best[name]):.0f} | {', '.join(f'{mib(v):.0f}' for v in values)} "
        f"| {ratio[name]:.1%} |"
        for name, values in speeds.items()
    ]
    client = "curl" if shutil.which("curl") else "a Python reader"
    section = "\n".join(
        [
            f"## 1. Throughput: one {mib(big.size):.0f} MiB file",
            "",
            "Anonymous download of a public dataset's file (quota per client address, "
            f"unlimited); gunicorn 2 workers × 4 threads; {client} writing to /dev/null; "
            f"best of {bench.sizes.rounds}, the rounds alternating the paths. The http "
            "location is the same nginx, so every path reads the very same bytes. The last "
            "row is the production setup of the README (nginx in front, sending local files "
            "itself); it is shown for comparison, the targets are on the gunicorn rows.",
            "",
            "| path | best MiB/s | runs MiB/s | vs nginx |",
            "|---|---:|---|---:|",
            *rows,
        ]
    )
    return Outcome(
        section,
        [
            Target(
                "throughput",
                "local location vs nginx",
                f"{ratio[LOCAL]:.1%}",
                "≥ 90 %",
                ratio[LOCAL] >= 0.9,
            ),
            Target(
                "throughput",
                "http location vs nginx",
                f"{ratio[REMOTE]:.1%}",
                "≥ 70 %",
                ratio[REMOTE] >= 0.7,
            ),
        ],
    )


# 2. Worker memory ---------------------------------------------------------------------------


class RssSampler(threading.Thread):
    """Samples the summed RSS of some processes until stopped; keeps the peak."""

    def __init__(self, pids, period=0.02):
        super().__init__(daemon=True)
        self.pids, self.period = pids, period
        self.peak = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            with contextlib.suppress(OSError, BenchError):
                self.peak = max(self.peak, sum(rss_bytes(pid) for pid in self.pids))
            self.done.wait(self.period)

    def stop(self):
        self.done.set()
        self.join()


def bench_memory(bench):
    big, small = bench.files["big"], bench.files["small"]
    with bench.catalog_server(workers=2, threads=4) as app:
        # Warm every worker on the relayed path (fresh connections spread them), so that
        # lazy imports and pools are in place before the measure.
        for _ in range(20):
            status, body = http_get(app.url + bench.download_path("small-remote"))
            if status != 200 or len(body) != small.size:
                raise BenchError(f"warm-up download: HTTP {status}")
        time.sleep(0.5)
        pids = app.worker_pids()
        before = {pid: rss_bytes(pid) for pid in pids}
        sampler = RssSampler(pids)
        sampler.start()
        try:
            seconds = timed_download(app.url + bench.download_path("big-remote"), big.size)
        finally:
            sampler.stop()
        time.sleep(0.5)
        after = {pid: rss_bytes(pid) for pid in pids}
    growth = sum(after.values()) - sum(before.values())
    peak_growth = max(sampler.peak, sum(after.values())) - sum(before.values())
    rows = [
        f"| {pid} | {mib(before[pid]):.1f} | {mib(after[pid]):.1f} "
        f"| {mib(after[pid] - before[pid]):+.1f} |"
        for pid in pids
    ]
    section = "\n".join(
        [
            f"## 2. Worker memory: one {mib(big.size):.0f} MiB file through the http location",
            "",
            "gunicorn 2 workers × 4 threads, warmed by 20 relayed downloads of the small "
            "file; VmRSS of every worker (children of the master) from /proc, before and "
            "after the download, and sampled every 20 ms while it ran "
            f"({mib(big.size / seconds):.0f} MiB/s).",
            "",
            "| worker pid | VmRSS before (MiB) | after (MiB) | growth (MiB) |",
            "|---|---:|---:|---:|",
            *rows,
            "",
            f"All workers: growth after {mib(growth):+.1f} MiB, "
            f"peak while streaming {mib(peak_growth):+.1f} MiB.",
        ]
    )
    worst = max(growth, peak_growth)
    return Outcome(
        section,
        [
            Target(
                "memory",
                "worker RSS growth (after, and peak while streaming)",
                f"{mib(growth):+.1f} / {mib(peak_growth):+.1f} MiB",
                "< 20 MiB",
                worst < 20 * MiB,
            )
        ],
    )


# 3. Small private file ----------------------------------------------------------------------

LOAD_THREADS = 8  # gunicorn threads per worker for the small-file load (THREADS default)
LOAD_CONNECTIONS = 32
LOAD_USERS = [f"load{n:02d}@bench.example" for n in range(32)]


def run_wrk(bench, url, header_sets, seconds, connections):
    """{"rate": successful requests/s, …} from a wrk run; several header sets take turns."""
    command = [bench.wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    command += ["--timeout", "10s"]
    if len(header_sets) == 1:
        for name, value in header_sets[0].items():
            command += ["-H", f"{name}: {value}"]
    else:
        command += ["-s", str(wrk_rotation_script(bench.tmp / "rotate.lua", header_sets))]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+) requests in ([\d.]+)(\w+),", output)
    if match is None:
        raise BenchError(f"unexpected wrk output:\n{output}")
    total = int(match[1])
    elapsed = float(match[2]) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60}[match[3]]
    failed = (
        int(re.search(r"Non-2xx or 3xx responses: (\d+)", output)[1]) if "Non-2xx" in output else 0
    )
    errors = re.search(r"Socket errors: (.*)", output)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.MULTILINE))
    return {
        "requests": total,
        "failed": failed,
        "seconds": elapsed,
        "rate": (total - failed) / elapsed,
        "p50": latency.get("50", "?"),
        "p99": latency.get("99", "?"),
        "socket_errors": errors[1] if errors else "none",
    }


def wrk_rotation_script(path, header_sets):
    """A wrk Lua script sending each request with the next header set."""
    sets = ", ".join(
        "{" + ", ".join(f'["{name}"] = "{value}"' for name, value in headers.items()) + "}"
        for headers in header_sets
    )
    path.write_text(
        f"local sets = {{{sets}}}\nlocal n = 0\n"
        "request = function()\n  n = n + 1\n"
        '  return wrk.format("GET", nil, sets[n % #sets + 1])\nend\n'
    )
    return path


def _python_client(url, headers, seconds):
    parts = urlsplit(url)
    ok = failed = 0
    deadline = time.monotonic() + seconds
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    while time.monotonic() < deadline:
        connection.request("GET", parts.path, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status == 200:
            ok += 1
        else:
            failed += 1
        if response.will_close:
            connection.close()
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.close()
    return ok, failed


def run_python_load(bench, url, header_sets, seconds, connections):
    """The wrk fallback: one process per connection, keep-alive GETs for `seconds`."""
    context = multiprocessing.get_context("spawn")
    started = time.perf_counter()
    jobs = [(url, header_sets[n % len(header_sets)], seconds) for n in range(connections)]
    with context.Pool(connections) as pool:
        results = pool.starmap(_python_client, jobs)
    elapsed = time.perf_counter() - started
    ok, failed = sum(r[0] for r in results), sum(r[1] for r in results)
    return {
        "requests": ok + failed,
        "failed": failed,
        "seconds": elapsed,
        "rate": ok / seconds,
        "p50": "n/a",
        "p99": "n/a",
        "socket_errors": "n/a",
    }


def measure_load(bench, url, header_sets):
    """A 1 s warm-up, then the measured load (wrk, else the Python client)."""
    load = run_wrk if bench.wrk else run_python_load
    load(bench, url, header_sets, 1, LOAD_CONNECTIONS)
    return load(bench, url, header_sets, bench.sizes.load_seconds, LOAD_CONNECTIONS)


def catalog_load(bench, header_sets, *, synchronous_commit=True):
    """Load on the small private file's download; synchronous_commit=False is a diagnostic."""
    from django.db import connection

    path = bench.download_path("small-private")
    if not synchronous_commit:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER DATABASE {DB_NAME} SET synchronous_commit TO off")
    try:
        with bench.catalog_server(workers=2, threads=LOAD_THREADS) as app:
            status, body = http_get(app.url + path, header_sets[0])
            if status != 200 or body != bench.files["small"].path.read_bytes():
                raise BenchError(f"catalog download: HTTP {status}: {body[:200]!r}")
            return measure_load(bench, app.url + path, header_sets)
    finally:
        if not synchronous_commit:
            with connection.cursor() as cursor:
                cursor.execute(f"ALTER DATABASE {DB_NAME} RESET synchronous_commit")
        bench._close_db()


def download_queries(bench, headers):
    """The SQL statements of one download of the small private file, run in-process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = Client().get(bench.download_path("small-private"), headers=headers)
        b"".join(response.streaming_content)
        response.close()  # the record and the slot release happen here
    bench._close_db()
    if response.status_code != 200:
        raise BenchError(f"in-process download: HTTP {response.status_code}")
    return [query["sql"] for query in captured.captured_queries]


def load_row(name, result):
    return (
        f"| {name} | {result['rate']:.1f} | {result['requests']} | {result['failed']} "
        f"| {result['seconds']:.2f} | {result['p50']} | {result['p99']} "
        f"| {result['socket_errors']} |"
    )


def bench_small(bench):
    from downloads.models import DownloadRecord

    small = bench.files["small"]
    one_user = [bench.auth("small@bench.example")]
    many_users = [bench.auth(email) for email in LOAD_USERS]
    with bench.bare_server(workers=2, threads=LOAD_THREADS) as bare:
        status, body = http_get(bare.url + "/file")
        if status != 200 or len(body) != small.size:
            raise BenchError(f"bare view: HTTP {status}, {len(body)} bytes")
        log("load on the bare FileResponse view")
        baseline = measure_load(bench, bare.url + "/file", [{}])
    log("load on the catalog download endpoint, one user")
    catalog = catalog_load(bench, one_user)
    log(f"diagnostic: {len(LOAD_USERS)} users")
    spread = catalog_load(bench, many_users)
    log("diagnostic: one user, synchronous_commit off")
    unsynced = catalog_load(bench, one_user, synchronous_commit=False)
    records = Counter(
        DownloadRecord.objects.filter(product_urn=bench.products["small-private"]).values_list(
            "outcome", flat=True
        )
    )
    try:
        queries = download_queries(bench, one_user[0])
    except Exception as error:  # a diagnostic: its failure must not hide the measures
        queries = [f"-- could not capture them: {type(error).__name__}: {error}"]
    ratio = catalog["rate"] / baseline["rate"]
    client = (
        f"wrk -t2 -c{LOAD_CONNECTIONS} -d{bench.sizes.load_seconds}s"
        if bench.wrk
        else f"{LOAD_CONNECTIONS} Python client processes (wrk unavailable) for "
        f"{bench.sizes.load_seconds} s"
    )
    section = "\n".join(
        [
            f"## 3. Small private file ({small.size // KiB} KiB), all checks",
            "",
            "A user with a Bearer token, in a group with FULL_ACCESS + INHERITED_ACCESS, "
            "licence accepted, quota unlimited; PostgreSQL; gunicorn 2 workers × "
            f"{LOAD_THREADS} threads for every server. Client: {client}, after a 1 s warm-up. "
            "The baseline is `bench/bare_app.py`: a Django view returning `FileResponse` of "
            "the same file, no middleware, no database. The last two rows are diagnostics, "
            f"not targets: the same load spread over {len(LOAD_USERS)} users (tokens taking "
            "turns, so no single quota row is hot), and one user with PostgreSQL's "
            "`synchronous_commit` off (no wait for the disk at commit).",
            "",
            "| server | downloads/s (200 only) | requests | non-200 | seconds | p50 | p99 "
            "| socket errors |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
            load_row("bare Django FileResponse", baseline),
            load_row("catalog download endpoint, one user", catalog),
            load_row(f"catalog, {len(LOAD_USERS)} users (diagnostic)", spread),
            load_row("catalog, one user, synchronous_commit off (diagnostic)", unsynced),
            "",
            f"Catalog / bare: {ratio:.1%}. Download records of all these runs (requests cut "
            f"by the end of a run are ABORTED): {dict(records)}.",
            "",
            f"One download runs {len(queries)} SQL statements (captured in-process):",
            "",
            "```sql",
            *(shorten(sql, 160) for sql in queries),
            "```",
        ]
    )
    return Outcome(
        section,
        [
            Target(
                "small", "downloads/s", f"{catalog['rate']:.1f}", "≥ 1000", catalog["rate"] >= 1000
            ),
            Target(
                "small",
                "vs bare FileResponse",
                f"{ratio:.1%} ({catalog['rate']:.1f} / {baseline['rate']:.1f})",
                "≥ 25 %",
                ratio >= 0.25,
            ),
        ],
    )


# 4. Search ----------------------------------------------------------------------------------

PRODUCT_COLUMNS = (
    "urn, provider_id, label, dataset_id, model, tags, properties, geometry, "
    "start_date, end_date, created, updated"
)
COPY_BATCH = 50_000
SEARCH_BUDGET = 120  # seconds per query


def product_rows(dataset_id, first, last, rng, now):
    """COPY text lines of products first..last-1: realistic properties, tags and dates."""
    epoch = datetime.datetime(2018, 1, 1, tzinfo=datetime.UTC)
    lines = []
    for number in range(first, last):
        platform_name = rng.choice(PLATFORMS)
        start = epoch + datetime.timedelta(seconds=number * 97)
        properties = {
            "cloud_cover": round(rng.uniform(0, 100), 2),
            "platform": platform_name,
            "start_date": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "orbit": number % 143 + 1,
            "processing_level": rng.choice(("L1C", "L2A")),
        }
        tags = ["optical", platform_name.split("-")[0].lower()]
        urn = f"URN:FEATURE:DATA:bench:{uuid.UUID(int=rng.getrandbits(128))}:V1"
        fields = (
            urn,
            f"P-{number:07d}",
            f"{platform_name} scene {number}",
            str(dataset_id),
            "DATA",
            json.dumps(tags),
            json.dumps(properties),
            r"\N",
            start.isoformat(),
            (start + datetime.timedelta(seconds=30)).isoformat(),
            now,
            now,
        )
        lines.append("\t".join(fields) + "\n")
    return "".join(lines)


def load_products(bench, count):
    """COPY `count` products (one RAWDATA file each) into the archive dataset, then ANALYZE."""
    from django.db import connection, transaction

    from products.models import Dataset

    dataset = Dataset.objects.get(urn=bench_urn("AIP:DATASET", "archive"))
    rng = random.Random(20240601)
    now = datetime.datetime.now(datetime.UTC).isoformat()
    started = time.perf_counter()
    log(f"loading {count:,} products with COPY")
    with transaction.atomic(), connection.cursor() as cursor:
        for first in range(0, count, COPY_BATCH):
            text = product_rows(dataset.pk, first, min(first + COPY_BATCH, count), rng, now)
            cursor.copy_expert(
                f"COPY products_product ({PRODUCT_COLUMNS}) FROM STDIN", io.StringIO(text)
            )
        cursor.execute(
            "INSERT INTO products_datafile (product_id, data_type, filename, mime_type, "
            "checksum, digest_algorithm, filesize, reference, uri, storage, key, types) "
            "SELECT id, 'RAWDATA', provider_id || '.SAFE.zip', 'application/zip', md5(urn), "
            "'MD5', 734003200, false, '', 'online', '', '[]'::jsonb "
            "FROM products_product WHERE dataset_id = %s",
            [dataset.pk],
        )
    with connection.cursor() as cursor:  # autocommit: VACUUM cannot run in a transaction
        cursor.execute("VACUUM ANALYZE products_product")
        cursor.execute("VACUUM ANALYZE products_datafile")
    # What a steward does for a property users query with ranges (README, index_property).
    from django.core.management import call_command

    call_command("index_property", "cloud_cover", stdout=io.StringIO())
    bench.products_load_seconds = time.perf_counter() - started
    log(f"loaded in {bench.products_load_seconds:.0f} s")


def search_queries(count, products):
    """{description: [q, …]}: selective queries, varied so that no answer is cached."""
    rng = random.Random(7)
    return {
        "providerId:P-… (one product)": [
            f"providerId:P-{rng.randrange(products):07d}" for _ in range(count)
        ],
        "properties.platform:… AND properties.cloud_cover:<1": [
            f"properties.platform:{PLATFORMS[n % len(PLATFORMS)]} AND properties.cloud_cover:<1"
            for n in range(count)
        ],
    }


def search_path(q):
    return f"{API}/engines/legacy/dataobjects/search?{urlencode({'q': q, 'page': 0, 'size': 20})}"


def timed_searches(url, queries):
    """Latencies (s) of sequential searches on one keep-alive connection; checks answers.

    Stops early after SEARCH_BUDGET seconds, so that a slow query cannot take the run hostage.
    """
    import requests

    latencies, totals = [], []
    deadline = time.monotonic() + SEARCH_BUDGET
    with requests.Session() as session:
        for q in queries[:10]:  # warm-up
            session.get(url + search_path(q), timeout=60)
        for q in queries:
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            response = session.get(url + search_path(q), timeout=60)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise BenchError(f"search {q!r}: HTTP {response.status_code} {response.text[:300]}")
            totals.append(response.json()["metadata"]["totalElements"])
    return latencies, totals


def explain_search(q):
    """[(sql, times run, EXPLAIN ANALYZE text)] for each distinct SELECT the search runs."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = Client().get(search_path(q))
    if response.status_code != 200:
        raise BenchError(f"search {q!r} in-process: HTTP {response.status_code}")
    runs = Counter(query["sql"] for query in captured.captured_queries)
    plans = []
    with connection.cursor() as cursor:
        for sql, times in runs.items():
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            plans.append((sql, times, "\n".join(row[0] for row in cursor.fetchall())))
    return plans


def index_listing():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname, indexdef, "
            "pg_size_pretty(pg_relation_size(indexname::regclass)) FROM pg_indexes "
            "WHERE tablename IN ('products_product', 'products_datafile') ORDER BY 1, 2"
        )
        rows = cursor.fetchall()
        cursor.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('products_product')), "
            "pg_size_pretty(pg_total_relation_size('products_datafile'))"
        )
        sizes = cursor.fetchone()
    lines = [
        f"Table sizes with indexes: products_product {sizes[0]}, products_datafile {sizes[1]}.",
        "",
        "| table | index | size | definition |",
        "|---|---|---:|---|",
    ]
    lines += [f"| {table} | {name} | {size} | `{sql}` |" for table, name, sql, size in rows]
    return lines


def bench_search(bench):
    from products.models import Product

    total = Product.objects.count()
    queries = search_queries(bench.sizes.search_requests, bench.sizes.products)
    lines = [
        f"## 4. Search over {total:,} products (PostgreSQL)",
        "",
        f"{bench.sizes.products:,} products loaded with COPY in "
        f"{bench.products_load_seconds:.0f} s (one dataset, public group "
        "FULL_ACCESS; properties cloud_cover, platform among "
        f"{len(PLATFORMS)}, start_date, orbit, processing_level; two tags; one RAWDATA file "
        "each), then VACUUM ANALYZE and `manage.py index_property cloud_cover`. "
        "Anonymous caller, page of 20, "
        f"{bench.sizes.search_requests} sequential requests per query on one keep-alive "
        "connection after 10 warm-up requests; gunicorn 2 workers × 4 threads.",
        "",
        f"Each query stops after {SEARCH_BUDGET} s if its requests have not all run.",
        "",
        "| query | requests | p50 ms | p95 ms | p99 ms | max ms | totalElements (min–max) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    targets = []
    with bench.catalog_server(workers=2, threads=4) as app:
        for description, qs in queries.items():
            log(f"search: {description}")
            latencies, totals = timed_searches(app.url, qs)
            p95 = percentile(latencies, 0.95) * 1000
            lines.append(
                f"| `{description}` | {len(latencies)} "
                f"| {statistics.median(latencies) * 1000:.1f} | {p95:.1f} "
                f"| {percentile(latencies, 0.99) * 1000:.1f} | {max(latencies) * 1000:.1f} "
                f"| {min(totals)}–{max(totals)} |"
            )
            targets.append(
                Target("search", f"p95 `{description}`", f"{p95:.1f} ms", "≤ 50 ms", p95 <= 50)
            )
    lines += ["", "### Indexes", "", *index_listing(), "", "### Query plans", ""]
    for qs in queries.values():
        lines += [f"#### `{qs[0]}`", ""]
        try:
            plans = explain_search(qs[0])
        except Exception as error:  # a diagnostic: its failure must not hide the measures
            plans = []
            lines += [f"Could not capture the plans: `{type(error).__name__}: {error}`", ""]
        for sql, times, plan in plans:
            runs = f" (run {times} times per request)" if times > 1 else ""
            lines += [f"```sql\n{sql}\n```{runs}", "", f"```\n{plan}\n```", ""]
    bench._close_db()
    return Outcome("\n".join(lines), targets)


# 5. Quota under concurrency -----------------------------------------------------------------


def concurrent_gets(url, headers, count):
    """Statuses of `count` GETs started together, each on its own connection and thread."""
    barrier = threading.Barrier(count)
    statuses = [None] * count
    sizes = [0] * count

    def one(index):
        try:
            barrier.wait(timeout=60)
            status, body = http_get(url, headers, timeout=300)
            statuses[index], sizes[index] = status, len(body)
        except Exception as error:  # a failed request is a result to report, not a crash
            statuses[index] = type(error).__name__

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses, sizes


def bench_quota(bench):
    from downloads.models import DownloadRecord, Quota

    email = "quota@bench.example"
    small, limit, count = (
        bench.files["small"],
        bench.sizes.max_quota,
        bench.sizes.concurrent_downloads,
    )
    with bench.catalog_server(workers=4, threads=16) as app:
        url = app.url + bench.download_path("small-private")
        log(f"{count} concurrent downloads against maxQuota={limit}")
        started = time.perf_counter()
        statuses, sizes = concurrent_gets(url, bench.auth(email), count)
        seconds = time.perf_counter() - started
    by_status = Counter(statuses)
    complete = sum(1 for s, n in zip(statuses, sizes, strict=True) if s == 200 and n == small.size)
    quota = Quota.objects.get(user__email=email)
    records = Counter(
        DownloadRecord.objects.filter(user__email=email).values_list("outcome", flat=True)
    )
    slots = quota.slots.count()
    bench._close_db()
    met = by_status[200] == limit and complete == limit and quota.current_quota == limit
    section = "\n".join(
        [
            f"## 5. Quota: {count} concurrent downloads against maxQuota={limit}",
            "",
            f"One user, the {small.size // KiB} KiB private file, {count} threads released "
            "together by a barrier, one connection each; gunicorn 4 workers × 16 threads "
            f"(PostgreSQL). All answered in {seconds:.1f} s.",
            "",
            f"- HTTP statuses: {dict(sorted(by_status.items(), key=str))}",
            f"- complete 200 bodies: {complete}",
            f"- Quota row: current_quota = {quota.current_quota}, current_volume = "
            f"{quota.current_volume} bytes, live slots left = {slots}",
            f"- DownloadRecords: {dict(records)}",
        ]
    )
    return Outcome(
        section,
        [
            Target(
                "quota",
                f"{count} concurrent downloads, maxQuota={limit}",
                f"{by_status[200]} × 200, counter {quota.current_quota}",
                f"exactly {limit}",
                met,
            )
        ],
    )


# Running and reporting ----------------------------------------------------------------------

RUNNERS = {
    "throughput": bench_throughput,
    "memory": bench_memory,
    "small": bench_small,
    "search": bench_search,
    "quota": bench_quota,
}


def run_benchmark(bench, name):
    log(f"=== {name}")
    try:
        return RUNNERS[name](bench)
    except Exception as error:
        log(f"{name} failed: {error}")
        detail = traceback.format_exc()
        section = f"## {name}: FAILED\n\n```\n{detail}\n```"
        return Outcome(section, [Target(name, "benchmark ran", f"error: {error}", "runs", False)])


def load_description(before):
    """Load average before the run (others' work) and after it (ours included)."""
    text = (
        f"1-min load average {before[0]:.1f} before the run, {os.getloadavg()[0]:.1f} after "
        "it (the bench's own load included)"
    )
    if before[0] > os.cpu_count() / 2:
        text += " — **the machine was busy before the bench started: numbers are noisy**"
    return text


def report(bench, outcomes, started):
    sizes, selected = bench.sizes, bench.selected
    targets = [target for outcome in outcomes for target in outcome.targets]
    mode = "quick" if sizes == QUICK else "full"
    header = [
        "# REGARDS Catalog benchmarks (SPEC §7)",
        "",
        f"- Run: {datetime.datetime.now():%Y-%m-%d %H:%M}, {mode} mode, "
        f"{', '.join(selected)}; took {time.perf_counter() - started:.0f} s",
        f"- Machine: {machine_description()}",
        f"- Load: {load_description(bench.load_before)}",
        f"- PostgreSQL: {bench.postgres}",
        f"- Tools: {tools_description()}",
        "- Ratios compare servers measured in this same run on this machine; absolute "
        "numbers depend on the machine (client, servers and PostgreSQL share its CPUs).",
        "",
        "| benchmark | target | measured | wanted | |",
        "|---|---|---:|---|---|",
    ]
    header += [
        f"| {t.benchmark} | {t.what} | {t.measured} | {t.wanted} "
        f"| {'met' if t.met else '**MISSED**'} |"
        for t in targets
    ]
    return "\n".join(header + [""] + [outcome.section + "\n" for outcome in outcomes])


def tools_description():
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    commands = [["psql", "--version"], [nginx, "-v"], ["wrk", "--version"], ["curl", "--version"]]
    return "; ".join(tool_version(command) for command in commands)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated benchmarks among {', '.join(BENCHMARKS)} (default: all)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 256 MiB file, 100k products, 5 s loads"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder and the database"
    )
    args = parser.parse_args(argv)
    selected = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(selected) - set(BENCHMARKS)
    if unknown or not selected:
        parser.error(f"--only takes names among {', '.join(BENCHMARKS)}")
    return args, [name for name in BENCHMARKS if name in selected]


def main(argv=None):
    args, selected = parse_args(sys.argv[1:] if argv is None else argv)
    # A plain kill must still stop the servers: SystemExit runs the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    bench = Bench(sizes, selected, keep=args.keep)
    try:
        bench.setup()
        outcomes = [run_benchmark(bench, name) for name in selected]
    finally:
        bench.teardown()
    text = report(bench, outcomes, started)
    REPORT.write_text(text)
    print(text)
    missed = [t for outcome in outcomes for t in outcome.targets if not t.met]
    log(f"report written to {REPORT}; {len(missed)} target(s) missed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
