"""4. Search over the synthetic archive (PostgreSQL): latency percentiles, indexes and plans."""

import random
import statistics
import time
from collections import Counter
from urllib.parse import urlencode

from bench.config import API
from bench.data import PLATFORMS
from bench.results import BenchError, Outcome, Target
from bench.timing import log, percentile

SEARCH_BUDGET = 120  # seconds per query


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


def run(bench):
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
    bench.close_db()
    return Outcome("\n".join(lines), targets)
