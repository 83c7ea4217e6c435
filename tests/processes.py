"""Waiting on other processes, and making sure none outlives the test run.

Tests run on busy machines: whatever waits on another process (a server starting, a
record written when a response closes, a log line) polls a condition until a generous
deadline, never a fixed sleep. Every server runs as the leader of its own process group,
and stopping it stops the whole group.
"""

import contextlib
import os
import pathlib
import signal
import socket
import subprocess
import time

import pytest
import requests

# Far beyond what anything takes on an idle machine: reaching it means something is stuck.
DEADLINE = 60.0
STOP_TIMEOUT = 10.0
PROBE_TIMEOUT = 5.0


def wait_until(condition, *, timeout=DEADLINE, interval=0.05, message="the condition"):
    """Poll `condition()` until it returns something true, and return that; fail after
    `timeout` seconds. `message` (a string, or a callable giving one) says what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            waited_for = message() if callable(message) else message
            pytest.fail(f"still waiting after {timeout:g}s for {waited_for}", pytrace=False)
        time.sleep(interval)


def answers_http(url, *, timeout=PROBE_TIMEOUT) -> bool:
    """Readiness probe: True once `url` gives any HTTP answer."""
    try:
        requests.get(url, timeout=timeout).close()
    except (requests.RequestException, OSError):
        return False
    return True


def accepts_connections(port, *, timeout=PROBE_TIMEOUT) -> bool:
    """Readiness probe: True once 127.0.0.1:`port` accepts a connection (no request sent,
    so nothing reaches an access log)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
    except OSError:
        return False
    return True


class ProcessGroup(subprocess.Popen):
    """A command started as the leader of a new session, so that `stop()` reaches every
    process it forks (gunicorn's and nginx's workers) as well as itself."""

    def __init__(self, command, **popen_kwargs):
        super().__init__(command, start_new_session=True, **popen_kwargs)
        self._stopped = False

    def stop(self, timeout=STOP_TIMEOUT) -> None:
        """SIGTERM the group, SIGKILL what is left of it after `timeout` seconds."""
        if self._stopped:  # the group id may since have been given to someone else
            return
        self._stopped = True
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.wait(timeout)
        # Even after a clean exit of the leader: a worker it left behind goes too.
        self._signal_group(signal.SIGKILL)
        self.wait(timeout)

    def _signal_group(self, signum) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signum)

    def __exit__(self, *exc_info):
        self.stop()
        super().__exit__(*exc_info)


@contextlib.contextmanager
def running(command, *, ready, log: pathlib.Path, name, timeout=DEADLINE, **popen_kwargs):
    """Run `command` (its output appended to `log`) until the with-block ends, once `ready()`
    says it serves. The whole process group is stopped at the end, even if it never got
    ready or the probe itself failed."""
    with open(log, "ab") as output:
        process = ProcessGroup(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            **popen_kwargs,
        )
    try:

        def exited_or_ready():
            return process.poll() is not None or ready()

        wait_until(
            exited_or_ready, timeout=timeout, message=lambda: f"{name} to start:\n{_tail(log)}"
        )
        if process.poll() is not None:
            pytest.fail(
                f"{name} exited at start ({process.returncode}):\n{_tail(log)}", pytrace=False
            )
        yield process
    finally:
        process.stop()


def _tail(log: pathlib.Path, size=4000) -> str:
    return log.read_text(errors="replace")[-size:] if log.exists() else "(no output)"
