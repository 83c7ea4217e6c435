"""One module per SPEC §7 benchmark, each with `run(bench) -> Outcome`, in report order."""

import traceback

from bench.benchmarks import memory, quota, search, small, stac, throughput, usage
from bench.results import Outcome, Target
from bench.timing import log

RUNNERS = {
    "throughput": throughput.run,
    "memory": memory.run,
    "small": small.run,
    "search": search.run,
    "stac": stac.run,
    "quota": quota.run,
    "usage": usage.run,
}
BENCHMARKS = tuple(RUNNERS)


def run_benchmark(bench, name):
    """The benchmark's outcome; a failure becomes a FAILED section and a missed target."""
    log(f"=== {name}")
    try:
        return RUNNERS[name](bench)
    except Exception as error:
        log(f"{name} failed: {error}")
        detail = traceback.format_exc()
        section = f"## {name}: FAILED\n\n```\n{detail}\n```"
        return Outcome(section, [Target(name, "benchmark ran", f"error: {error}", "runs", False)])
