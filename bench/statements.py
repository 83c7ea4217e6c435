"""What PostgreSQL spends on each statement of a download under load: `pg_stat_statements`,
reset before a load and read after it. The extension needs the server to preload it
(`shared_preload_libraries = 'pg_stat_statements'`), which a stock PostgreSQL does not:
then the report says so and goes on."""

import re

PREPARED = re.compile(r"^PREPARE regards_\w+ AS ")
MAX_ROWS = 12


def statements_reset():
    """Start counting; None, or why the statements cannot be measured on this server."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW shared_preload_libraries")
        if "pg_stat_statements" not in cursor.fetchone()[0]:
            return "PostgreSQL does not preload pg_stat_statements (shared_preload_libraries)"
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        cursor.execute("SELECT pg_stat_statements_reset()")
    return None


def statements_read(requests):
    """[(statement, top level, calls per request, mean ms, ms per request)] of this database
    since `statements_reset`, the longest first."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT query, toplevel, calls, total_exec_time FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND query NOT LIKE %s ORDER BY total_exec_time DESC LIMIT %s",
            ["%pg_stat_statements%", MAX_ROWS],
        )
        rows = cursor.fetchall()
    return [
        (_readable(query), toplevel, calls / requests, total / calls, total / requests)
        for query, toplevel, calls, total in rows
    ]


def _readable(query):
    """A statement on one line; a prepared one (`regards_catalog.sql.execute`) is counted
    as `PREPARE regards_… AS …`, of which what it runs is the rest."""
    return " ".join(PREPARED.sub("", query, count=1).split())


def _run_by(text, toplevel):
    if not toplevel:
        return "a trigger"
    # PostgreSQL checks a foreign key of a written row with this statement of its own.
    return "a foreign key's check" if text.endswith("FOR KEY SHARE OF x") else "the code"


def statements_table(rows, shorten):
    return [
        "| statement | run by | per download | mean ms | ms per download |",
        "|---|---|---:|---:|---:|",
        *(
            f"| `{shorten(text, 110)}` | {_run_by(text, toplevel)} "
            f"| {per_request:.2f} | {mean:.3f} | {total:.3f} |"
            for text, toplevel, per_request, mean, total in rows
        ),
    ]
