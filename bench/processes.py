"""What /proc says about the servers' processes: children of a master, resident memory."""

import contextlib
import os
import threading
from pathlib import Path

from bench.config import KiB
from bench.results import BenchError


def child_pids(parent):
    """Pids whose parent is `parent` (gunicorn workers of a master), from /proc."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent:
            children.append(int(stat.parent.name))
    return sorted(children)


def _stat_fields(stat_path):
    """(command name, fields after it) of a /proc/<pid>/stat file."""
    text = stat_path.read_text()
    return text[text.index("(") + 1 : text.rindex(")")], text.rsplit(")", 1)[1].split()


def cpu_seconds(pids):
    """User + system CPU seconds used so far by each of `pids` still alive: {pid: seconds}."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):
            fields = _stat_fields(Path(f"/proc/{pid}/stat"))[1]
            used[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return used


def postgres_pids():
    """The PostgreSQL server's processes (postmaster, backends, writers) on this machine."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError):
            if _stat_fields(stat)[0] == "postgres":
                pids.append(int(stat.parent.name))
    return pids


def machine_seconds():
    """(busy, idle) CPU seconds of all the machine's cores so far, from /proc/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    times = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = times[3] + times[4]  # idle, iowait
    # user, nice, system, idle, iowait, irq, softirq: steal is time the machine did not have
    return (sum(times[:7]) - idle) / ticks, idle / ticks


class CpuMeter:
    """CPU seconds spent by a server's workers, by PostgreSQL and by the rest of the machine
    (the load generator, the kernel's network work) between start() and stop(), and the
    seconds its cores stayed idle: where a request's time goes, and whether the load
    saturated the cores."""

    def __init__(self, server):
        self.server = server

    def start(self):
        self.before = cpu_seconds(self.server.worker_pids() + postgres_pids())
        self.machine_before = machine_seconds()

    def stop(self):
        """{"workers": s, "postgres": s, "rest": s, "idle": s}; processes born meanwhile
        count from zero. "idle": the seconds all the cores together stayed idle."""
        busy, idle = machine_seconds()
        workers = cpu_seconds(self.server.worker_pids())
        postgres = cpu_seconds(postgres_pids())
        used = {
            "workers": sum(t - self.before.get(pid, 0) for pid, t in workers.items()),
            "postgres": sum(t - self.before.get(pid, 0) for pid, t in postgres.items()),
        }
        busy -= self.machine_before[0]
        used["rest"] = max(busy - used["workers"] - used["postgres"], 0.0)
        used["idle"] = idle - self.machine_before[1]
        return used


def rss_bytes(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * KiB
    raise BenchError(f"no VmRSS for process {pid}")


class RssSampler(threading.Thread):
    """Samples the summed RSS of some processes until stopped; keeps the peak."""

    def __init__(self, pids, period=0.02):
        super().__init__(daemon=True)
        self.pids, self.period = pids, period
        self.peak = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            with contextlib.suppress(OSError, BenchError):
                self.peak = max(self.peak, sum(rss_bytes(pid) for pid in self.pids))
            self.done.wait(self.period)

    def stop(self):
        self.done.set()
        self.join()
