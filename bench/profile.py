"""Where a server's Python time goes under load: `py-spy record --gil` on its workers while
wrk runs, summed by the frames the small-file report names."""

import collections
import re
import shutil
import subprocess

from bench.config import ROOT
from bench.load import run_wrk

PY_SPY = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
RATE = 97  # samples a second: below py-spy's default, so it takes little of the two cores

# (what the report calls it, the frame as py-spy names it: function (file))
FRAMES = [
    (
        "everything Django and DRF run (the rest is gunicorn)",
        "WSGIHandler.__call__ (django/core/handlers/wsgi.py)",
    ),
    (
        "the download view, checks 2–10 and the transfer",
        "DownloadView.download (downloads/views.py)",
    ),
    ("token authentication", "BearerTokenAuthentication.authenticate (regards_catalog/auth.py)"),
    ("checks 2–6: `requested_file`", "requested_file (downloads/selectors.py)"),
    ("check 9: the quota read", "quota_check (downloads/quotas.py)"),
    ("`Transfer.begin`: quota taken, record written", "Transfer.begin (downloads/transfers.py)"),
    ("`Transfer.finish`: record completed", "Transfer.finish (downloads/transfers.py)"),
    ("all SQL statements, in the driver", "CursorWrapper._execute (django/db/backends/utils.py)"),
    ("building ORM SQL (compiler)", "SQLCompiler.as_sql (django/db/models/sql/compiler.py)"),
]
LINE_NUMBER = re.compile(r":\d+\)")


def gil_profile(bench, server, url, header_sets, seconds):
    """(rows of the report's profile table, total samples, wrk's result), or (None, reason,
    wrk's result) when py-spy cannot attach (it needs ptrace rights)."""
    raw = bench.tmp / f"py-spy-{server.port}.txt"
    command = [PY_SPY, "record", "--gil", "--subprocesses", "--nonblocking", "--format", "raw"]
    command += ["--rate", str(RATE), "--duration", str(seconds), "--pid", str(server.process.pid)]
    try:
        spy = subprocess.Popen(
            command + ["-o", str(raw)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
    except OSError as error:
        return None, f"py-spy did not start: {error}", None
    try:
        load = run_wrk(bench, url, header_sets, seconds, 16)
    finally:
        _, errors = spy.communicate(timeout=seconds + 60)
    if spy.returncode != 0 or not raw.exists():
        return None, f"py-spy failed: {errors.decode(errors='replace').strip()[-300:]}", load
    shares, total = collections.Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = {LINE_NUMBER.sub(")", frame) for frame in stack.split(";")}
        total += int(count)
        for _, frame in FRAMES:
            if frame in frames:
                shares[frame] += int(count)
    rows = [(name, shares[frame] / max(total, 1)) for name, frame in FRAMES]
    return rows, total, load
