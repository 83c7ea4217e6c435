"""3. Small private file, all checks: downloads/s against a bare Django FileResponse view."""

import math
import os
import re
from collections import Counter

from bench.client import http_get
from bench.config import DB_NAME, KiB
from bench.data import LOAD_USERS
from bench.load import LOAD_CONNECTIONS, measure_load, run_wrk
from bench.profile import gil_profile
from bench.results import BenchError, Outcome, Target
from bench.sqlite import sqlite_catalog
from bench.statements import statements_read, statements_reset, statements_table
from bench.timing import log

# PostgreSQL's `WITH changed AS (UPDATE …) INSERT …` (regards_catalog.sql.insert) writes.
WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE)\b", re.I)
LOAD_THREADS = 8  # gunicorn threads per worker: one per wrk connection over the 2 workers


def shorten(text, width):
    return text if len(text) <= width else text[: width - 1] + "…"


def catalog_load(bench, product, header_sets, *, env=None, synchronous_commit=True):
    """(load result, server log text) of downloads of `product`'s file; synchronous_commit=False
    is a diagnostic (PostgreSQL does not wait for the disk at commit)."""
    from django.db import connection

    path = bench.download_path(product)
    if not synchronous_commit:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER DATABASE {DB_NAME} SET synchronous_commit TO off")
    try:
        with bench.catalog_server(workers=2, threads=LOAD_THREADS, env=env) as app:
            status, body = http_get(app.url + path, header_sets[0])
            if status != 200 or body != bench.files["small"].path.read_bytes():
                raise BenchError(f"catalog download of {product}: HTTP {status}: {body[:200]!r}")
            result = measure_load(bench, app.url + path, header_sets, app)
        return result, app.log_path.read_text(errors="replace")
    finally:
        if not synchronous_commit:
            with connection.cursor() as cursor:
                cursor.execute(f"ALTER DATABASE {DB_NAME} RESET synchronous_commit")
        bench.close_db()


def catalog_profile(bench, product, headers):
    """The report's profile lines: py-spy on a catalog server's workers, and PostgreSQL's
    time per statement, under the same load."""
    if not bench.wrk:
        return ["No profile: it runs under wrk, which is not installed."]
    with bench.catalog_server(workers=2, threads=LOAD_THREADS) as app:
        url = app.url + bench.download_path(product)
        run_wrk(bench, url, [headers], 1, LOAD_CONNECTIONS)  # warm-up
        no_statements = statements_reset()
        bench.close_db()
        rows, total, load = gil_profile(bench, app, url, [headers], bench.sizes.load_seconds)
        if no_statements is None and load is not None:
            statements = statements_read(max(load["requests"], 1))
    bench.close_db()
    lines = [f"No profile: {total}"]
    if rows is not None:
        lines = [
            f"Where the workers' Python time goes (`py-spy record --gil` on both workers during "
            f"another {bench.sizes.load_seconds} s of the one-user load on the private file, "
            f"{total} samples of the threads holding the GIL; a frame's share includes what "
            "it calls, so shares overlap):",
            "",
            "| frame | share of the workers' Python time |",
            "|---|---:|",
            *(f"| {name} | {share:.0%} |" for name, share in rows),
        ]
    lines.append("")
    if no_statements is not None or load is None:
        return [*lines, f"No statement profile: {no_statements or 'no load ran'}."]
    return [
        *lines,
        "PostgreSQL's time per statement during the same load (`pg_stat_statements`, "
        "`track = all`): a trigger's statements run inside the write that fires them, whose "
        "time includes theirs. This is the time in the executor, waits for another "
        "transaction's row locks included; parsing, commit and the protocol are not in it:",
        "",
        *statements_table(statements, shorten),
    ]


def seconds(wrk_duration):
    """wrk's "850.00us", "12.34ms" or "1.12s" in seconds (inf when unknown)."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", wrk_duration)
    if match is None:
        return math.inf
    return float(match[1]) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60}[match[2]]


def database_work(statements):
    """(SQL statements, write transactions) of one download's captured SQL (in autocommit,
    a transaction shows as BEGIN … COMMIT; a write outside one is a transaction itself)."""
    ran = [sql for sql in statements if sql.split()[0].upper() not in ("BEGIN", "COMMIT")]
    writes, in_transaction, block_writes = 0, False, False
    for sql in statements:
        word = sql.split()[0].upper()
        if word == "BEGIN":
            in_transaction, block_writes = True, False
        elif word == "COMMIT":
            writes += block_writes
            in_transaction = False
        elif word in ("INSERT", "UPDATE", "DELETE") or (word == "WITH" and WRITES.search(sql)):
            if in_transaction:
                block_writes = True
            else:
                writes += 1
    return len(ran), writes


def download_queries(bench, headers):
    """The SQL statements of one download of the small private file, run in-process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from regards_catalog.sql import statement_behind

    with CaptureQueriesContext(connection) as captured:
        response = Client().get(bench.download_path("small-private"), headers=headers)
        b"".join(response.streaming_content)
        response.close()  # the record and the slot release happen here
    bench.close_db()
    if response.status_code != 200:
        raise BenchError(f"in-process download: HTTP {response.status_code}")
    # The statements prepared on PostgreSQL show as what they run, not as EXECUTE.
    return [statement_behind(query["sql"]) for query in captured.captured_queries]


def load_row(name, result):
    cpu = result["cpu_ms"]
    return (
        f"| {name} | {result['rate']:.1f} | {result['requests']} | {result['failed']} "
        f"| {result['seconds']:.2f} | {result['p50']} | {result['p99']} "
        f"| {cpu['workers']:.2f} | {cpu['postgres']:.2f} | {cpu['rest']:.2f} "
        f"| {result['idle_share']:.0%} | {result['socket_errors']} |"
    )


def cpu_budget(baseline_rate, floor, catalog, share=0.25):
    """The CPU a private download may use at `share` of bare, against what it spends before
    any Python of its own: the framework floor with the token, PostgreSQL's work on its
    statements after the token's, and the load generator's and kernel's share."""
    cores = os.cpu_count()
    target = share * baseline_rate
    allowed = cores * 1000 / target
    floor_cpu, own = floor["cpu_ms"], catalog["cpu_ms"]
    floor_cost = floor_cpu["workers"] + floor_cpu["postgres"]
    statements = own["postgres"] - floor_cpu["postgres"]
    before_python = floor_cost + statements + own["rest"]
    left = allowed - before_python
    leaves = f"{left:.2f} ms" if left > 0 else "nothing"
    spent = own["workers"] - floor_cpu["workers"]
    return (
        f"CPU budget: at {share:.0%} of bare, {target:.0f} downloads/s, the {cores} cores "
        f"give each download {allowed:.2f} ms of CPU in all. Before any Python of its own, "
        f"a private download takes {floor_cost:.2f} ms for the floor with the token (workers "
        f"and PostgreSQL, its row), {statements:.2f} ms of PostgreSQL for its statements after "
        "the token's (the catalog row's PostgreSQL minus the floor's) and "
        f"{own['rest']:.2f} ms of the rest of the machine (the catalog row): "
        f"{before_python:.2f} ms. That leaves {leaves} for the Python of checks 2–10, the "
        f"quota and the record, which take {spent:.2f} ms here (the catalog row's workers "
        "minus the floor's)."
    )


def floor_loads(bench, token_headers):
    """The framework floor (bench/floor_app.py): the project's middleware and DRF answering
    the file with no check, without and with the Bearer token's authentication."""
    with bench.floor_server(workers=2, threads=LOAD_THREADS) as floor:
        loads = {}
        for view, headers in (("drf", {}), ("drf-token", token_headers)):
            status, body = http_get(floor.url + "/" + view, headers)
            if status != 200 or body != bench.files["small"].path.read_bytes():
                raise BenchError(f"floor view {view}: HTTP {status}: {body[:200]!r}")
            log(f"load on the framework floor, /{view}")
            loads[view] = measure_load(bench, floor.url + "/" + view, [headers], floor)
    return loads


def bare_load(bench, when):
    """The baseline: the bare FileResponse view (bench/bare_app.py) under the same load."""
    small = bench.files["small"]
    with bench.bare_server(workers=2, threads=LOAD_THREADS) as bare:
        status, body = http_get(bare.url + "/file")
        if status != 200 or len(body) != small.size:
            raise BenchError(f"bare view: HTTP {status}, {len(body)} bytes")
        log(f"load on the bare FileResponse view ({when})")
        return measure_load(bench, bare.url + "/file", [{}], bare)


def run(bench):
    from downloads.models import DownloadRecord

    small = bench.files["small"]
    one_user = [bench.auth("small@bench.example")]
    many_users = [bench.auth(email) for email in LOAD_USERS]
    # The machine's speed drifts by a fifth within minutes: the baseline is measured before
    # and after the two rows it is compared with, and their mean is the ratios' base.
    bare_before = bare_load(bench, "before")
    floor = floor_loads(bench, one_user[0])
    log("load on the catalog download endpoint, one user")
    catalog, _ = catalog_load(bench, "small-private", one_user)
    log("profile of the catalog download endpoint, one user (py-spy)")
    profile = catalog_profile(bench, "small-private", one_user[0])
    log("load on a public file type (quicklook), one user")
    public, _ = catalog_load(bench, "small-quicklook", one_user)
    bare_after = bare_load(bench, "after")
    baseline_rate = (bare_before["rate"] + bare_after["rate"]) / 2
    log(f"diagnostic: {len(LOAD_USERS)} users")
    spread, _ = catalog_load(bench, "small-private", many_users)
    log("diagnostic: one user, every thread at once (no request turns)")
    every_thread, _ = catalog_load(
        bench, "small-private", one_user, env={"REQUEST_CONCURRENCY": str(LOAD_THREADS)}
    )
    log("diagnostic: one user, synchronous_commit off")
    unsynced, _ = catalog_load(bench, "small-private", one_user, synchronous_commit=False)
    log("load on the catalog download endpoint on SQLite, one user")
    sqlite_env, sqlite_token = sqlite_catalog(bench)
    on_sqlite, sqlite_log = catalog_load(
        bench,
        "small-private",
        [{"Authorization": f"Bearer {sqlite_token}"}],
        env=sqlite_env,
    )
    locked = sqlite_log.count("database is locked")
    records = Counter(
        DownloadRecord.objects.filter(product_urn=bench.products["small-private"]).values_list(
            "outcome", flat=True
        )
    )
    try:
        queries = download_queries(bench, one_user[0])
    except Exception as error:  # a diagnostic: its failure must not hide the measures
        queries = [f"-- could not capture them: {type(error).__name__}: {error}"]
    statements, transactions = database_work(queries)
    ratio = catalog["rate"] / baseline_rate
    public_ratio = public["rate"] / baseline_rate
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
            "licence accepted, quota unlimited; PostgreSQL unless said; gunicorn 2 workers × "
            f"{LOAD_THREADS} threads for every server. Client: {client}, after a 1 s warm-up. "
            "The baseline is `bench/bare_app.py`: a Django view returning `FileResponse` of "
            "the same file, no middleware, no database, measured before the catalog's rows "
            "and after them (the machine's speed drifts): the ratios divide by the mean of the "
            f"two, {baseline_rate:.1f}/s. The quicklook row is the same bytes "
            "as a public file type (metadata access only: no licence, no quota; its record is "
            "written once, when the response closes). The SQLite "
            "row is `make run`'s database (WAL, IMMEDIATE transactions). The three diagnostic "
            f"rows are not targets: the same load spread over {len(LOAD_USERS)} users "
            "(tokens taking turns, so no single quota row is hot); one user with every "
            f"thread of a worker running its request at once (`REQUEST_CONCURRENCY={LOAD_THREADS}`"
            "; by default a worker runs 2 requests at once, its other threads waiting for a "
            'turn: README, "Threads and turns"); and one user with PostgreSQL\'s '
            "`synchronous_commit` off (no wait for the disk at commit).",
            "",
            "| server | downloads/s (200 only) | requests | non-200 | seconds | p50 | p99 "
            "| CPU ms/request, gunicorn | CPU ms/request, PostgreSQL "
            "| CPU ms/request, rest of the machine | cores idle | socket errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
            load_row("bare Django FileResponse, before", bare_before),
            load_row("floor: project middleware + DRF view, no check", floor["drf"]),
            load_row("floor: the same + Bearer token authentication", floor["drf-token"]),
            load_row("catalog download endpoint, one user", catalog),
            load_row("catalog, public file type (quicklook)", public),
            load_row("bare Django FileResponse, after", bare_after),
            load_row("catalog on SQLite, one user", on_sqlite),
            load_row(f"catalog, {len(LOAD_USERS)} users (diagnostic)", spread),
            load_row(
                f"catalog, one user, REQUEST_CONCURRENCY={LOAD_THREADS} (diagnostic)",
                every_thread,
            ),
            load_row("catalog, one user, synchronous_commit off (diagnostic)", unsynced),
            "",
            f"Catalog / bare: {ratio:.1%}; quicklook / bare: {public_ratio:.1%}. The two "
            "floor rows are `bench/floor_app.py`: the project's settings, middleware and DRF "
            "answering the same FileResponse with none of the checks; with the token they "
            "run the download endpoint's authentication (one SELECT of the token and its user) "
            f"and reach {floor['drf-token']['rate'] / baseline_rate:.1%} of bare, before "
            "any check. The CPU columns are the CPU time the gunicorn workers, PostgreSQL and "
            "the rest of the machine (wrk, the kernel's network work) spent during the measured "
            "load, divided by the requests: with the cores this busy, these, not waits, set "
            "the rate.",
            "",
            cpu_budget(baseline_rate, floor["drf-token"], catalog),
            "",
            *profile,
            "",
            f"SQLite: 'database is locked' in the server's log {locked} times. Download "
            "records of the PostgreSQL runs (requests cut by the end of a run are ABORTED): "
            f"{dict(records)}.",
            "",
            f"One download runs {statements} SQL statements in {transactions} write "
            "transactions (captured in-process; BEGIN and COMMIT shown, not counted):",
            "",
            "```sql",
            *(shorten(sql, 160) for sql in queries),
            "```",
        ]
    )
    p99 = seconds(catalog["p99"])
    sqlite_p99 = seconds(on_sqlite["p99"])
    return Outcome(
        section,
        [
            Target(
                "small",
                "private file vs bare FileResponse",
                f"{ratio:.1%} ({catalog['rate']:.1f} / {baseline_rate:.1f})",
                "≥ 25 %",
                ratio >= 0.25,
            ),
            Target("small", "private file p99", catalog["p99"], "≤ 50 ms", p99 <= 0.05),
            Target(
                "small",
                "public file type vs bare FileResponse",
                f"{public_ratio:.1%} ({public['rate']:.1f} / {baseline_rate:.1f})",
                "≥ 50 %",
                public_ratio >= 0.5,
            ),
            Target(
                "small",
                "SQLite p99, 'database is locked'",
                f"{on_sqlite['p99']}, {locked}",
                "≤ 200 ms, 0",
                sqlite_p99 <= 0.2 and locked == 0,
            ),
            Target(
                "small",
                "SQL statements, write transactions per counted download",
                f"{statements}, {transactions}",
                "≤ 6, ≤ 2",
                statements <= 6 and transactions <= 2,
            ),
        ],
    )
