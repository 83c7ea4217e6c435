"""The SQLite backend queues a process's writers on a lock, and the processes on a file lock
(regards_catalog/sqlite_backend): a write waits for the writer before it, reads never wait,
and a writer that never ends makes the others fail as SQLite would, never hang."""

import fcntl
import os
import threading

import pytest
from django.db import OperationalError, connection, connections, transaction

from downloads.models import QuotaDefaults

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "sqlite", reason="the write queue is SQLite's backend only"
    ),
]
WAIT = 30  # seconds: a deadline for conditions, never a pause


def in_thread(work):
    """Run `work` on a thread with its own connection; returns (thread, result dict)."""
    result = {}

    def run():
        try:
            result["value"] = work()
        except Exception as error:  # handed to the test, which asserts on it
            result["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def lock_file_path():
    return f"{connection.settings_dict['NAME']}-writers.lock"


def test_a_transaction_holds_the_write_lock_until_it_ends():
    with transaction.atomic():
        assert connection.holds_write_lock
        QuotaDefaults.objects.update(max_quota=3)
    assert not connection.holds_write_lock
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        assert connection.holds_write_lock
        raise ZeroDivisionError
    assert not connection.holds_write_lock


def test_a_write_waits_for_the_transaction_before_it_and_reads_do_not():
    QuotaDefaults.current()
    entered, leave = threading.Event(), threading.Event()

    def long_transaction():
        with transaction.atomic():
            QuotaDefaults.objects.update(max_quota=7)
            entered.set()
            assert leave.wait(WAIT)

    holder, held = in_thread(long_transaction)
    assert entered.wait(WAIT)
    # A read goes on while the writer holds the lock; SQLite's WAL shows the last commit.
    assert QuotaDefaults.objects.get().max_quota != 7
    writer, wrote = in_thread(lambda: QuotaDefaults.objects.update(rate_limit=2))
    writer.join(0.2)
    assert writer.is_alive(), "the write went in while another transaction held the lock"
    leave.set()
    holder.join(WAIT)
    writer.join(WAIT)
    assert "error" not in held and "error" not in wrote
    assert QuotaDefaults.objects.values_list("max_quota", "rate_limit").get() == (7, 2)


def test_another_process_holding_the_file_lock_makes_writers_wait_then_fail(settings):
    QuotaDefaults.current()
    connection.settings_dict["OPTIONS"] = {**connection.settings_dict["OPTIONS"], "timeout": 0.3}
    other_process = os.open(lock_file_path(), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(other_process, fcntl.LOCK_EX)
        with pytest.raises(OperationalError, match="database is locked"):
            QuotaDefaults.objects.update(max_quota=5)
        assert not connection.holds_write_lock
        fcntl.flock(other_process, fcntl.LOCK_UN)
        assert QuotaDefaults.objects.update(max_quota=5) == 1
    finally:
        os.close(other_process)
        connection.close()  # the next test reconnects with the settings' timeout


def test_the_file_lock_is_free_once_the_write_is_done():
    QuotaDefaults.objects.update_or_create(pk=1, defaults={"max_quota": 4})
    probe = os.open(lock_file_path(), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if a writer kept it
        fcntl.flock(probe, fcntl.LOCK_UN)
    finally:
        os.close(probe)
