"""2. Worker memory: RSS of the gunicorn workers while relaying the big file (http location)."""

from bench.client import http_get, timed_download
from bench.config import MiB, mib
from bench.processes import RssSampler, rss_bytes
from bench.results import BenchError, Outcome, Target
from bench.timing import wait_until

WARM_UPS = 20
RECORD_SECONDS = 30


def records_of(bench, product):
    from downloads.models import DownloadRecord

    return DownloadRecord.objects.filter(product_urn=bench.products[product]).count()


def wait_recorded(bench, product, count):
    """Wait until `product` has `count` download records: each is written when a worker has
    closed the response, so the workers are done with those downloads."""
    if not wait_until(lambda: records_of(bench, product) >= count, timeout=RECORD_SECONDS):
        raise BenchError(
            f"{product}: {records_of(bench, product)} download records after "
            f"{RECORD_SECONDS} s, expected {count}"
        )


def run(bench):
    big, small = bench.files["big"], bench.files["small"]
    with bench.catalog_server(workers=2, threads=4) as app:
        # Warm every worker on the relayed path (fresh connections spread them), so that
        # lazy imports and pools are in place before the measure.
        warm_records = records_of(bench, "small-remote") + WARM_UPS
        for _ in range(WARM_UPS):
            status, body = http_get(app.url + bench.download_path("small-remote"))
            if status != 200 or len(body) != small.size:
                raise BenchError(f"warm-up download: HTTP {status}")
        wait_recorded(bench, "small-remote", warm_records)
        pids = app.worker_pids()
        before = {pid: rss_bytes(pid) for pid in pids}
        big_records = records_of(bench, "big-remote") + 1
        sampler = RssSampler(pids)
        sampler.start()
        try:
            seconds = timed_download(app.url + bench.download_path("big-remote"), big.size)
        finally:
            sampler.stop()
        wait_recorded(bench, "big-remote", big_records)
        after = {pid: rss_bytes(pid) for pid in pids}
    bench.close_db()
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
            f"gunicorn 2 workers × 4 threads, warmed by {WARM_UPS} relayed downloads of the "
            "small file; VmRSS of every worker (children of the master) from /proc, before and "
            "after the download (each once the workers had written the download records), "
            f"and sampled every 20 ms while it ran ({mib(big.size / seconds):.0f} MiB/s).",
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
