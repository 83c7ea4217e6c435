"""The report: the machine, the load, the targets met or missed, then each benchmark's section."""

import contextlib
import datetime
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

from bench.config import QUICK, ROOT

REPORT = ROOT / "bench" / "report.md"


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


def tools_description():
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    commands = [["psql", "--version"], [nginx, "-v"], ["wrk", "--version"], ["curl", "--version"]]
    return "; ".join(tool_version(command) for command in commands)


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
    """The whole report as Markdown: header, the table of targets, the sections."""
    targets = [target for outcome in outcomes for target in outcome.targets]
    mode = "quick" if bench.sizes == QUICK else "full"
    header = [
        "# REGARDS Catalog benchmarks (SPEC §7)",
        "",
        f"- Run: {datetime.datetime.now():%Y-%m-%d %H:%M}, {mode} mode, "
        f"{', '.join(bench.selected)}; took {time.perf_counter() - started:.0f} s",
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
