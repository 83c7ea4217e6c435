"""bench/report.md: the machine, the targets of SPEC §7 met or missed, then each section."""

import contextlib
import os
import platform
import time
from pathlib import Path

from bench.config import ROOT

REPORT = ROOT / "bench" / "report.md"


def cpu_model():
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def report(bench, outcomes, started):
    """The report's Markdown text."""
    minutes = (time.perf_counter() - started) / 60
    load_after = os.getloadavg()
    targets = [target for outcome in outcomes for target in outcome.targets]
    rows = [
        f"| {t.benchmark} | {t.what} | {t.measured} | {t.wanted} | {'✔' if t.met else '✘'} |"
        for t in targets
    ]
    lines = [
        "# Benchmarks (SPEC §7)",
        "",
        f"Run of {time.strftime('%Y-%m-%d %H:%M')}, {minutes:.1f} min"
        f"{' (--quick)' if bench.sizes.big_file < 1024**3 else ''}; "
        f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average {bench.load_before[0]:.2f} before, {load_after[0]:.2f} after "
        "(other work on the machine makes every figure noisy: compare within a run).",
        "",
        f"PostgreSQL: {bench.postgres}.",
        "",
        "| benchmark | what | measured | target | met |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]
    for outcome in outcomes:
        lines += [outcome.section, ""]
    return "\n".join(lines)
