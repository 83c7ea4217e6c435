"""Waiting on other processes, and making sure none outlives the test run.

Tests run on busy machines: whatever waits on another process (a server starting, a
record written when a response closes, a log line) polls a condition until a generous
deadline, never a fixed sleep. Every server runs as the leader of its own process group,
and stopping it stops the whole group. At the end of the run, each process running tests
checks that it left no descendant alive (see `pytest_sessionfinish`).
"""

import contextlib
import ctypes
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import psutil
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

    def kill_group(self) -> None:
        """SIGKILL the whole group at once, leader and workers, as a crash of its host
        would: nothing of theirs runs after it. stop() then has nothing left to do."""
        descendants = psutil.Process(self.pid).children(recursive=True)
        self._stopped = True
        self._signal_group(signal.SIGKILL)
        self.wait(STOP_TIMEOUT)
        # Orphaned, they are handed to this process (a subreaper, see pytest_configure):
        # reap them, or their zombies would stay among this process's children.
        psutil.wait_procs(descendants, timeout=STOP_TIMEOUT)

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


# The session-level check: no process started by the tests may outlive them.

LEFTOVERS = pytest.StashKey[list]()
PR_SET_CHILD_SUBREAPER = 36


def pytest_configure(config):
    config.stash[LEFTOVERS] = []
    if sys.platform == "linux":
        # Orphans (an nginx worker whose master was killed, a daemon that forked away) are
        # handed to this process instead of init, so that the check below still sees them.
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    """Kill and report this process's descendants still alive. trylast: after every fixture
    teardown and, in the xdist controller, after its workers have exited."""
    config = session.config
    leftovers = config.stash[LEFTOVERS]
    worker = getattr(config, "workerinput", {}).get("workerid")
    leftovers += [f"{worker or 'pytest'}: {line}" for line in kill_leftovers()]
    if worker:
        config.workeroutput["leftover_processes"] = leftovers  # for the controller
    elif leftovers and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist controller: collect what a worker found left running."""
    output = getattr(node, "workeroutput", {})
    node.config.stash[LEFTOVERS].extend(output.get("leftover_processes", []))


def pytest_terminal_summary(terminalreporter, config):
    if leftovers := config.stash.get(LEFTOVERS, []):
        terminalreporter.section("processes left running by the tests (now killed)", red=True)
        for line in leftovers:
            terminalreporter.line(line, red=True)


def kill_leftovers() -> list[str]:
    """Kill the descendants of this process still alive, and describe them."""
    alive = _alive(psutil.Process().children(recursive=True))
    if not alive:
        return []
    # One whose stop() has just sent it SIGKILL is given a moment to die.
    _, alive = psutil.wait_procs(alive, timeout=2)
    leftovers = []
    for process in _alive(alive):
        try:
            command = " ".join(process.cmdline()).strip() or process.name()
        except psutil.Error:
            command = "(command line unreadable)"
        leftovers.append(f"pid {process.pid}: {command}")
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=STOP_TIMEOUT)
    return leftovers


def _alive(processes) -> list:
    """Those not exited yet (a zombie has exited: it only waits for its parent to notice)."""
    alive = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
    return alive
