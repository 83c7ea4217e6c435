"""Load generation for the small-file benchmark: wrk, or a multi-process Python client."""

import http.client
import multiprocessing
import os
import re
import shutil
import subprocess
import time
from urllib.parse import urlsplit

from bench.processes import CpuMeter
from bench.results import BenchError
from bench.timing import log

LOAD_CONNECTIONS = 16  # wrk -t2 -c16, as SPEC §7 and the issue measure it


def ensure_wrk():
    """wrk's path, installing the Debian package if we can; None = use the Python client."""
    if shutil.which("wrk"):
        return shutil.which("wrk")
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing: apt-get install -y wrk")
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        if subprocess.run(install, capture_output=True, timeout=600).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=600)
            subprocess.run(install, capture_output=True, timeout=600)
    if shutil.which("wrk") is None:
        log("wrk unavailable: falling back to the multi-process Python client (slower)")
    return shutil.which("wrk")


def run_wrk(bench, url, header_sets, seconds, connections):
    """{"rate": successful requests/s, …} from a wrk run; several header sets take turns."""
    command = [bench.wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    command += ["--timeout", "10s"]
    if len(header_sets) == 1:
        for name, value in header_sets[0].items():
            command += ["-H", f"{name}: {value}"]
    else:
        command += ["-s", str(wrk_rotation_script(bench.tmp / "rotate.lua", header_sets))]
    output = subprocess.run(
        command + [url], capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    match = re.search(r"(\d+) requests in ([\d.]+)(\w+),", output)
    if match is None:
        raise BenchError(f"unexpected wrk output:\n{output}")
    total = int(match[1])
    elapsed = float(match[2]) * {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60}[match[3]]
    failed = (
        int(re.search(r"Non-2xx or 3xx responses: (\d+)", output)[1]) if "Non-2xx" in output else 0
    )
    errors = re.search(r"Socket errors: (.*)", output)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.MULTILINE))
    return {
        "requests": total,
        "failed": failed,
        "seconds": elapsed,
        "rate": (total - failed) / elapsed,
        "p50": latency.get("50", "?"),
        "p99": latency.get("99", "?"),
        "socket_errors": errors[1] if errors else "none",
    }


def wrk_rotation_script(path, header_sets):
    """A wrk Lua script sending each request with the next header set."""
    sets = ", ".join(
        "{" + ", ".join(f'["{name}"] = "{value}"' for name, value in headers.items()) + "}"
        for headers in header_sets
    )
    path.write_text(
        f"local sets = {{{sets}}}\nlocal n = 0\n"
        "request = function()\n  n = n + 1\n"
        '  return wrk.format("GET", nil, sets[n % #sets + 1])\nend\n'
    )
    return path


def _python_client(url, headers, seconds):
    parts = urlsplit(url)
    ok = failed = 0
    deadline = time.monotonic() + seconds
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        while time.monotonic() < deadline:
            connection.request("GET", parts.path, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                ok += 1
            else:
                failed += 1
            if response.will_close:
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    finally:
        connection.close()
    return ok, failed


def run_python_load(bench, url, header_sets, seconds, connections):
    """The wrk fallback: one process per connection, keep-alive GETs for `seconds`."""
    context = multiprocessing.get_context("spawn")
    started = time.perf_counter()
    jobs = [(url, header_sets[n % len(header_sets)], seconds) for n in range(connections)]
    with context.Pool(connections) as pool:  # leaving the block terminates the processes
        results = pool.starmap_async(_python_client, jobs).get(timeout=seconds + 60)
    elapsed = time.perf_counter() - started
    ok, failed = sum(r[0] for r in results), sum(r[1] for r in results)
    return {
        "requests": ok + failed,
        "failed": failed,
        "seconds": elapsed,
        "rate": ok / seconds,
        "p50": "n/a",
        "p99": "n/a",
        "socket_errors": "n/a",
    }


def measure_load(bench, url, header_sets, server):
    """A 1 s warm-up, then the measured load (wrk, else the Python client), with the CPU
    milliseconds per request spent by `server`'s workers, by PostgreSQL and by the rest of
    the machine, and the share of the cores' time left idle."""
    load = run_wrk if bench.wrk else run_python_load
    load(bench, url, header_sets, 1, LOAD_CONNECTIONS)
    meter = CpuMeter(server)
    meter.start()
    result = load(bench, url, header_sets, bench.sizes.load_seconds, LOAD_CONNECTIONS)
    used = meter.stop()
    result["idle_share"] = used.pop("idle") / (os.cpu_count() * result["seconds"])
    requests = max(result["requests"], 1)
    result["cpu_ms"] = {name: seconds * 1000 / requests for name, seconds in used.items()}
    return result
