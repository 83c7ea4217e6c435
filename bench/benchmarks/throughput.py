"""1. Throughput: one big file through the API (local and http locations) against nginx."""

import shutil

from bench.client import timed_download
from bench.config import mib
from bench.results import Outcome, Target
from bench.timing import log

NGINX = "nginx, the file directly"
LOCAL = "API, local location (gunicorn)"
REMOTE = "API, http location (relayed by Python)"
OFFLOADED = "API behind nginx, DOWNLOAD_OFFLOAD=nginx (informative)"


def throughputs(paths, bench):
    """{name: [bytes/s per round]}; the paths take turns so that no one gets a warmer machine."""
    speeds = {name: [] for name in paths}
    for round_number in range(bench.sizes.rounds):
        for name, (url, size, headers) in paths.items():
            seconds = timed_download(url, size, headers)
            speeds[name].append(size / seconds)
            log(f"round {round_number + 1}: {name} {mib(size / seconds):.0f} MiB/s")
    return speeds


def run(bench):
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
