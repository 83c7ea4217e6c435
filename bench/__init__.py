"""The benchmarks of SPEC §7, measured as ratios against baselines taken in the same run.

    .venv/bin/python -m bench [--quick] [--only NAME[,NAME…]] [--keep]

NAME is one of throughput, memory, small, search, quota. The run uses a fresh PostgreSQL
database `regards_bench` (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432),
a temporary VAR_DIR and STORAGE_CONFIG, an nginx serving the storage folder (both the
throughput baseline and the `remote` and `remote-unchecked` http locations), and gunicorn
with the project's gunicorn.conf.py. It writes bench/report.md, prints it, and exits 1 if
a target is missed.
"""
