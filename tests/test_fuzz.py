"""Fuzzing the API from its own OpenAPI schema with schemathesis: no input gives a 500."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
def test_no_generated_request_gets_a_server_error(live_server, token_for):
    cli = Path(sys.executable).with_name("schemathesis")
    if not cli.exists():
        cli = shutil.which("schemathesis")
    # A steward reaches every operation, the quota administration included.
    token = token_for(UserFactory(steward=True))

    run = subprocess.run(
        [
            str(cli),
            "run",
            f"{live_server.url}/api/v1/schema?format=json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "15",
            "--seed",
            "1",
            "--header",
            f"Authorization: Bearer {token}",
            # A fresh connection per request: on a reused one, Django's development server
            # (live_server) can leave a stray error page that the next request then reads
            # as its answer, failing the run on a busy machine.
            "--header",
            "Connection: close",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    tested = re.search(r"Tested: (\d+)", run.stdout)
    assert tested and int(tested[1]) >= 17, run.stdout[-3000:]  # every operation was reached
