"""The bench's own PostgreSQL database: created fresh, dropped at the end, described."""

import statistics
import time

from bench.config import DB_NAME, POSTGRES_URL


def admin_execute(*statements):
    import psycopg2

    connection = psycopg2.connect(f"{POSTGRES_URL}/postgres")
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def create_database():
    admin_execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)", f"CREATE DATABASE {DB_NAME}")


def drop_database():
    admin_execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def postgres_description():
    """Server settings that bound the download rate, and the median latency of a commit."""
    from django.db import connection

    with connection.cursor() as cursor:
        settings = {}
        for name in ("synchronous_commit", "fsync", "shared_buffers", "max_connections"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
        cursor.execute("CREATE TABLE bench_commit (n integer)")
        latencies = []
        for n in range(100):  # autocommit: each INSERT is one commit
            started = time.perf_counter()
            cursor.execute("INSERT INTO bench_commit VALUES (%s)", [n])
            latencies.append(time.perf_counter() - started)
        cursor.execute("DROP TABLE bench_commit")
    shown = ", ".join(f"{name}={value}" for name, value in settings.items())
    return f"{shown}; one-row INSERT+commit median {statistics.median(latencies) * 1000:.2f} ms"
