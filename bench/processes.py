"""What /proc says about the servers' processes: children of a master, resident memory."""

import contextlib
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
