"""Django's SQLite backend, with the writers of a process taking turns on a lock of its own.

SQLite lets one writer in at a time. The others wait in its busy handler, which sleeps
between tries, up to 100 ms at a time, and wakes in no particular order: with sixteen
download threads writing their records, the slowest downloads waited most of a second
(p99 740 ms, bench/report.md §3) although each write takes well under a millisecond. Here
the threads of a process queue on a lock that is handed over as soon as it is released,
and the one at its head takes a file lock (flock) beside the database, which the
processes sharing it pass between them within half a millisecond; SQLite's own lock is
then free when a writer asks for it. A write is a transaction (`atomic`, which starts with
BEGIN IMMEDIATE) or, outside one, an INSERT, UPDATE or DELETE. Both waits end, as
SQLite's would, with "database is locked" after OPTIONS["timeout"] seconds.
"""

import fcntl
import os
import re
import threading
import time

from django.db import OperationalError
from django.db.backends.sqlite3 import base

WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)

_write_locks = {}
_write_locks_guard = threading.Lock()


def write_lock(database):
    """The lock of this process's writers to the SQLite file `database`."""
    with _write_locks_guard:
        return _write_locks.setdefault(str(database), threading.Lock())


class DatabaseWrapper(base.DatabaseWrapper):
    holds_write_lock = False
    lock_file = None  # this connection's descriptor of the file lock (flock is per descriptor)

    def take_write_lock(self):
        deadline = time.monotonic() + self.settings_dict["OPTIONS"].get("timeout", 5)
        lock = write_lock(self.settings_dict["NAME"])
        if not lock.acquire(timeout=max(deadline - time.monotonic(), 0)):
            raise OperationalError("database is locked")
        try:
            self._take_file_lock(deadline)
        except BaseException:
            lock.release()
            raise
        self.holds_write_lock = True

    def _take_file_lock(self, deadline):
        if self.is_in_memory_db():
            return  # no other process shares it
        if self.lock_file is None:
            self.lock_file = os.open(
                f"{self.settings_dict['NAME']}-writers.lock", os.O_RDWR | os.O_CREAT
            )
        while True:
            try:
                fcntl.flock(self.lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OperationalError("database is locked") from None
                time.sleep(0.0005)  # one waiter per process: a poll that costs nothing

    def release_write_lock(self):
        if self.holds_write_lock:
            self.holds_write_lock = False
            if self.lock_file is not None:
                fcntl.flock(self.lock_file, fcntl.LOCK_UN)
            write_lock(self.settings_dict["NAME"]).release()

    def _start_transaction_under_autocommit(self):
        self.take_write_lock()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self.release_write_lock()
            raise

    def _commit(self):
        try:
            super()._commit()
        finally:
            self.release_write_lock()

    def _rollback(self):
        try:
            super()._rollback()
        finally:
            self.release_write_lock()

    def _close(self):
        try:
            super()._close()
        finally:
            self.release_write_lock()
            if self.lock_file is not None:
                os.close(self.lock_file)
                self.lock_file = None

    def create_cursor(self, name=None):
        cursor = self.connection.cursor(factory=QueuedWriteCursor)
        cursor.database = self
        return cursor


class QueuedWriteCursor(base.SQLiteCursorWrapper):
    """A write outside a transaction takes the process's write lock for its statement."""

    database = None

    def execute(self, query, params=None):
        return self._queued(super().execute, query, params)

    def executemany(self, query, param_list):
        return self._queued(super().executemany, query, param_list)

    def _queued(self, run, query, params):
        if self.database.holds_write_lock or not WRITE.match(query):
            return run(query, params)
        self.database.take_write_lock()
        try:
            return run(query, params)
        finally:
            self.database.release_write_lock()
