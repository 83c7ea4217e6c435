"""HTTP clients of the benchmarks: one GET, a timed download, many GETs released together."""

import http.client
import shutil
import subprocess
import threading
import time
from urllib.parse import urlsplit

from bench.config import MiB
from bench.results import BenchError


def http_get(url, headers=None, timeout=120):
    """(status, body) of one GET on a fresh connection."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def timed_download(url, expected_size, headers=None):
    """Seconds to GET `url` to /dev/null (curl, else a Python reader); checks status and size."""
    headers = headers or {}
    if shutil.which("curl"):
        command = [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download} %{time_total}",
        ]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        result = subprocess.run(command + [url], capture_output=True, text=True, timeout=600)
        status, size, seconds = result.stdout.split()
        status, size, seconds = int(status), int(size), float(seconds)
    else:
        status, size, seconds = python_download(url, headers)
    if status != 200 or size != expected_size:
        raise BenchError(f"GET {url}: HTTP {status}, {size} bytes instead of {expected_size}")
    return seconds


def python_download(url, headers):
    parts = urlsplit(url)
    started = time.perf_counter()
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        connection.request("GET", parts.path, headers=headers)
        response = connection.getresponse()
        buffer, size = memoryview(bytearray(4 * MiB)), 0
        while count := response.readinto(buffer):
            size += count
    finally:
        connection.close()
    return response.status, size, time.perf_counter() - started


def concurrent_gets(url, headers, count):
    """Statuses of `count` GETs started together, each on its own connection and thread."""
    barrier = threading.Barrier(count)
    statuses = [None] * count
    sizes = [0] * count

    def one(index):
        try:
            barrier.wait(timeout=60)
            status, body = http_get(url, headers, timeout=300)
            statuses[index], sizes[index] = status, len(body)
        except Exception as error:  # a failed request is a result to report, not a crash
            statuses[index] = type(error).__name__

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses, sizes
