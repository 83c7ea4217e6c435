"""5. Quota under concurrency: many simultaneous downloads against maxQuota, exactly counted."""

import time
from collections import Counter

from bench.client import concurrent_gets
from bench.config import KiB
from bench.results import Outcome, Target
from bench.timing import log


def run(bench):
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
    slots = DownloadRecord.objects.filter(quota=quota, lease_expires__isnull=False).count()
    bench.close_db()
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
