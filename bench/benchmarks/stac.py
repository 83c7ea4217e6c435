"""5. STAC item search over the synthetic archive (PostgreSQL): a 1°×1° bbox with a datetime
interval, and a CQL2 filter on one property; latency percentiles and plans."""

import random
import statistics
import time
from urllib.parse import urlencode

from bench.benchmarks.search import SEARCH_BUDGET, TUNED_PLANNER, plan_section
from bench.config import API
from bench.data import FOOTPRINT, LATITUDES
from bench.results import BenchError, Outcome, Target
from bench.timing import log, percentile

STAC_SEARCH = f"{API}/stac/search"
LIMIT = 10
TARGET_MS = 50


def stac_queries(count):
    """{description: [path, …]}: the SPEC §7 STAC searches, varied so that no answer is cached."""
    rng = random.Random(11)
    boxes = []
    for _ in range(count):
        west = rng.uniform(-180, 179)
        south = rng.uniform(LATITUDES[0], LATITUDES[1] - 1)
        year = rng.choice((2018, 2019, 2020))
        boxes.append(
            {
                "bbox": f"{west:.4f},{south:.4f},{west + 1:.4f},{south + 1:.4f}",
                "datetime": f"{year}-01-01T00:00:00Z/{year}-12-31T23:59:59Z",
                "limit": LIMIT,
            }
        )
    filters = [
        {
            "filter": f"cloud_cover < {rng.uniform(0.5, 1.5):.2f}",
            "filter-lang": "cql2-text",
            "limit": LIMIT,
        }
        for _ in range(count)
    ]
    return {
        "bbox 1°×1° AND datetime (one year)": [f"{STAC_SEARCH}?{urlencode(p)}" for p in boxes],
        "filter `cloud_cover < 0.5…1.5` (CQL2 text)": [
            f"{STAC_SEARCH}?{urlencode(p)}" for p in filters
        ],
    }


def timed_gets(url, paths):
    """Latencies (s) of sequential GETs on one keep-alive connection, and their
    numberMatched (the items of the page where absent); stops after SEARCH_BUDGET seconds."""
    import requests

    latencies, found = [], []
    deadline = time.monotonic() + SEARCH_BUDGET
    with requests.Session() as session:
        for path in paths[:10]:  # warm-up
            session.get(url + path, timeout=60)
        for path in paths:
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            response = session.get(url + path, timeout=60)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise BenchError(f"GET {path}: HTTP {response.status_code} {response.text[:300]}")
            body = response.json()
            found.append(body.get("numberMatched", len(body["features"])))
    return latencies, found


def run(bench):
    from products import spatial
    from products.models import Product

    total = Product.objects.count()
    indexed = spatial.postgis_indexed("default")
    queries = stac_queries(bench.sizes.search_requests)
    lines = [
        f"## 5. STAC item search over {total:,} products (PostgreSQL)",
        "",
        f"The archive of section 4: each product also has a {FOOTPRINT:g}°×{FOOTPRINT:g}° "
        f"footprint at a random place between latitudes {LATITUDES[0]:g} and "
        f"{LATITUDES[1]:g}, and start dates spread over 2018–2021. Spatial search "
        + (
            "runs through PostGIS and the GiST index on the footprint (migration 0009)."
            if indexed
            else "runs through the portable path: PostGIS is NOT installed on this server."
        ),
        f"Anonymous caller, `limit={LIMIT}`, {bench.sizes.search_requests} sequential GETs per "
        "query on one keep-alive connection after 10 warm-up requests; gunicorn 2 workers × "
        f"4 threads, `{TUNED_PLANNER}`. The column shows numberMatched where given (an "
        "item search counts up to 1,000 matches), else the items of the page.",
        "",
        "| query | requests | p50 ms | p95 ms | p99 ms | max ms | numberMatched |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    targets = []
    bench.close_db()
    with bench.catalog_server(workers=2, threads=4, env={"PGOPTIONS": TUNED_PLANNER}) as app:
        for description, paths in queries.items():
            log(f"stac: {description}")
            latencies, found = timed_gets(app.url, paths)
            p95 = percentile(latencies, 0.95) * 1000
            lines.append(
                f"| {description} | {len(latencies)} "
                f"| {statistics.median(latencies) * 1000:.1f} | {p95:.1f} "
                f"| {percentile(latencies, 0.99) * 1000:.1f} | {max(latencies) * 1000:.1f} "
                f"| {min(found)}–{max(found)} (median {statistics.median(found):g}) |"
            )
            targets.append(
                Target(
                    "stac",
                    f"p95 {description}",
                    f"{p95:.1f} ms",
                    f"≤ {TARGET_MS} ms",
                    p95 <= TARGET_MS,
                )
            )
    lines += ["", "### Query plans", "", "In-process, anonymous caller, same planner settings.", ""]
    for description, paths in queries.items():
        lines += plan_section(f"{description}: `{paths[0]}`", paths[0], TUNED_PLANNER)
    bench.close_db()
    return Outcome("\n".join(lines), targets)
