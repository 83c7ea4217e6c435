"""`python -m bench`: parse the options, run the chosen benchmarks, write the report."""

import argparse
import signal
import sys
import time

import bench
from bench.benchmarks import BENCHMARKS, run_benchmark
from bench.config import FULL, QUICK
from bench.environment import Bench
from bench.report import REPORT, report
from bench.timing import log


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=bench.__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated benchmarks among {', '.join(BENCHMARKS)} (default: all)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 256 MiB file, 100k products and download records, 5 s loads",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder and the database"
    )
    args = parser.parse_args(argv)
    selected = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(selected) - set(BENCHMARKS)
    if unknown or not selected:
        parser.error(f"--only takes names among {', '.join(BENCHMARKS)}")
    return args, [name for name in BENCHMARKS if name in selected]


def main(argv=None):
    args, selected = parse_args(sys.argv[1:] if argv is None else argv)
    # A plain kill must still stop the servers: SystemExit runs the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    environment = Bench(sizes, selected, keep=args.keep)
    try:
        environment.setup()
        outcomes = [run_benchmark(environment, name) for name in selected]
    finally:
        environment.teardown()
    text = report(environment, outcomes, started)
    REPORT.write_text(text)
    print(text)
    missed = [t for outcome in outcomes for t in outcome.targets if not t.met]
    log(f"report written to {REPORT}; {len(missed)} target(s) missed")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
