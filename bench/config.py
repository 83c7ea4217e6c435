"""Where the bench runs and how big it runs: paths, its database, units and sizes."""

import dataclasses
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
# Several benchmark runs at once (one per checkout) each need their own database.
DB_NAME = os.environ.get("BENCH_DB_NAME", "regards_bench")
API = "/api/v1/rs-catalog"
MiB = 1024 * 1024
KiB = 1024


def mib(n_bytes):
    return n_bytes / MiB


@dataclasses.dataclass(frozen=True)
class Sizes:
    big_file: int
    products: int
    load_seconds: int
    search_requests: int = 200
    concurrent_downloads: int = 500
    max_quota: int = 100
    small_file: int = 10 * KiB
    rounds: int = 3  # best of, for throughput
    download_records: int = 1_000_000  # the usage dashboard's history


FULL = Sizes(big_file=1024 * MiB, products=1_000_000, load_seconds=10)
QUICK = Sizes(big_file=256 * MiB, products=100_000, load_seconds=5, download_records=100_000)
