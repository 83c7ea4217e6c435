"""Several process_restores workers at once: each request is claimed and copied by exactly
one of them, and copies appear in the cache whole or not at all."""

import re

import pytest
from rest_framework.test import APIClient

from downloads.models import RestoreRequest
from tests.factories import RestoreRequestFactory
from tests.helpers import in_threads, run_command

pytestmark = pytest.mark.django_db(transaction=True)

Status = RestoreRequest.Status
REQUESTS = 20


@pytest.fixture
def pending_restores(stored_file):
    """REQUESTS nearline files, each with a pending restore request."""
    data_files = [
        stored_file(f"tape file {n}\n".encode() * (n + 1), location="nearline")
        for n in range(REQUESTS)
    ]
    for data_file in data_files:
        RestoreRequestFactory(data_file=data_file)
    return data_files


def test_two_workers_restore_each_file_exactly_once(pending_restores, storage):
    outputs = in_threads(2, lambda _: run_command("process_restores", "--once"))

    restores = RestoreRequest.objects.all()
    assert [(r.status, r.attempts, r.error) for r in restores] == [(Status.DONE, 1, "")] * REQUESTS
    assert all(r.available_until is not None for r in restores)
    restored = [int(re.search(r"(\d+) restored, 0 failed\.", out).group(1)) for out in outputs]
    assert sum(restored) == REQUESTS
    lines = [line for out in outputs for line in out.splitlines() if line.startswith("restored ")]
    assert sorted(lines) == sorted(
        f"restored {f.filename} ({f.checksum})" for f in pending_restores
    )
    for data_file in pending_restores:
        cached = storage.root / "cache" / data_file.storage_key
        assert (
            cached.read_bytes() == (storage.root / "nearline" / data_file.storage_key).read_bytes()
        )


def test_copies_leave_no_temporary_file_in_the_cache(pending_restores, storage):
    in_threads(2, lambda _: run_command("process_restores", "--once"))

    names = sorted(path.name for path in (storage.root / "cache").iterdir())
    assert names == sorted(f.storage_key for f in pending_restores)


def test_parallel_restore_requests_queue_one_restore_per_file(stored_file):
    data_file = stored_file(b"on tape\n", location="nearline")

    def ask(_):
        response = APIClient().post(
            "/api/v1/rs-catalog/restore", {"product_ids": [data_file.product.urn]}, format="json"
        )
        return response.status_code

    assert in_threads(4, ask) == [200] * 4
    assert RestoreRequest.objects.filter(data_file=data_file).count() == 1
