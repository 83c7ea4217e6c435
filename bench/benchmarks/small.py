"""3. Small private file, all checks: downloads/s against a bare Django FileResponse view."""

from collections import Counter

from bench.client import http_get
from bench.config import DB_NAME, KiB
from bench.data import LOAD_USERS
from bench.load import LOAD_CONNECTIONS, measure_load
from bench.results import BenchError, Outcome, Target
from bench.timing import log

LOAD_THREADS = 8  # gunicorn threads per worker for the small-file load (THREADS default)


def shorten(text, width):
    return text if len(text) <= width else text[: width - 1] + "…"


def private_download_load(bench, header_sets, *, synchronous_commit=True):
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
        bench.close_db()


def download_queries(bench, headers):
    """The SQL statements of one download of the small private file, run in-process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = Client().get(bench.download_path("small-private"), headers=headers)
        b"".join(response.streaming_content)
        response.close()  # the record and the slot release happen here
    bench.close_db()
    if response.status_code != 200:
        raise BenchError(f"in-process download: HTTP {response.status_code}")
    return [query["sql"] for query in captured.captured_queries]


def load_row(name, result):
    return (
        f"| {name} | {result['rate']:.1f} | {result['requests']} | {result['failed']} "
        f"| {result['seconds']:.2f} | {result['p50']} | {result['p99']} "
        f"| {result['socket_errors']} |"
    )


def run(bench):
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
    catalog = private_download_load(bench, one_user)
    log(f"diagnostic: {len(LOAD_USERS)} users")
    spread = private_download_load(bench, many_users)
    log("diagnostic: one user, synchronous_commit off")
    unsynced = private_download_load(bench, one_user, synchronous_commit=False)
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
