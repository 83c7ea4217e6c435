"""regards_catalog.wsgi prepares a worker at boot, before its first request."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import gc, json, sys
import regards_catalog.wsgi
print(json.dumps({"frozen": gc.get_freeze_count(), "views": "downloads.views" in sys.modules}))
"""


def test_a_worker_loads_its_urls_and_freezes_what_it_loaded(tmp_path):
    env = {**os.environ, "VAR_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # wsgi.py sets it, as under gunicorn
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )

    state = json.loads(probe.stdout.strip().splitlines()[-1])
    assert state["views"] is True  # the URLconf, and with it every view
    # Django, the views and the search grammar: far more than an empty interpreter holds.
    assert state["frozen"] > 50_000
