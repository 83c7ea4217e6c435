"""Clients that stop reading, against gunicorn with the production config: a stalled
download is cut off after DOWNLOAD_STALL_SECONDS, and stalled clients never make the
others wait."""

import contextlib
import os
import time
from urllib.parse import urlsplit

import psutil
import pytest
import requests

from downloads.models import DownloadRecord, Quota
from tests.factories import AccessGroupFactory, AccessRightFactory, QuotaFactory, UserFactory
from tests.helpers import download_url, reset, running_downloads, stalled_client
from tests.processes import DEADLINE, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SIZE = 64 * 1024 * 1024  # far more than the socket buffers can hold
Outcome = DownloadRecord.Outcome


def read_to_the_end(sock):
    """How many bytes are left to read before the server's close (or reset)."""
    received = 0
    with contextlib.suppress(ConnectionResetError):
        while data := sock.recv(1024 * 1024):
            received += len(data)
    return received


@pytest.fixture
def big_private_file(stored_file, token_for):
    """A big private file, a user who may download one at a time, and their token header."""
    data_file = stored_file(os.urandom(SIZE), file_access="NO_ACCESS")
    user = UserFactory()
    AccessRightFactory(group=AccessGroupFactory(members=[user]), dataset=data_file.product.dataset)
    QuotaFactory(user=user, rate_limit=1)
    return data_file, user, f"Authorization: Bearer {token_for(user)}"


def test_a_client_that_stops_reading_is_cut_off_and_frees_its_slot(
    start_gunicorn, big_private_file
):
    url = start_gunicorn(DOWNLOAD_STALL_SECONDS="2")
    data_file, user, auth = big_private_file

    sock = stalled_client(url, download_url(data_file), [auth])
    try:
        record = wait_until(
            lambda: DownloadRecord.objects.filter(outcome=Outcome.ABORTED).first(),
            message="the stalled download to be cut off",
        )
        assert "read nothing for 2 s" in record.error
        assert 0 < record.bytes_sent < SIZE
        assert not running_downloads().exists()
        assert Quota.objects.get(user=user).current_volume == record.bytes_sent
        # The connection is closed: what the kernel still holds, then the end.
        assert read_to_the_end(sock) < SIZE
    finally:
        reset(sock)
    # The slot is free again: rate_limit=1 lets the next download through.
    again = requests.get(
        url + download_url(data_file), headers=dict([auth.split(": ")]), timeout=DEADLINE
    )
    assert (again.status_code, len(again.content)) == (200, SIZE)


def test_thirty_stalled_clients_do_not_stop_a_normal_download(start_gunicorn, stored_file):
    url = start_gunicorn()  # the production thread count and stall bound
    big = stored_file(os.urandom(SIZE), filename="big.bin")
    small_content = b"a quicklook's worth of bytes\n" * 100
    small = stored_file(small_content, filename="small.bin")
    stalled = []
    try:
        for _ in range(30):
            stalled.append(stalled_client(url, download_url(big)))
        wait_until(
            lambda: DownloadRecord.objects.filter(outcome=Outcome.IN_PROGRESS).count() == 30,
            message="30 downloads in progress",
        )

        started = time.monotonic()
        response = requests.get(url + download_url(small), timeout=DEADLINE)
        elapsed = time.monotonic() - started

        assert (response.status_code, response.content) == (200, small_content)
        assert elapsed < 2, f"a normal download took {elapsed:.2f} s"
    finally:
        for sock in stalled:
            reset(sock)
    wait_until(
        lambda: DownloadRecord.objects.filter(outcome=Outcome.ABORTED).count() == 30,
        message="the 30 stalled downloads recorded as aborted",
    )
    assert wait_until(lambda: not running_downloads().exists())


def gunicorn_workers(url):
    """The worker processes of the gunicorn serving `url` (its master is our child)."""
    port = str(urlsplit(url).port)
    (master,) = [
        process
        for process in psutil.Process().children()
        if "gunicorn" in " ".join(process.cmdline()) and process.environ().get("PORT") == port
    ]
    return master.children()


def test_a_download_whose_worker_is_killed_is_recorded_and_closed_by_the_lease_sweep(
    start_gunicorn, big_private_file
):
    url = start_gunicorn(SLOT_LEASE_SECONDS="3")
    data_file, user, auth = big_private_file
    sock = stalled_client(url, download_url(data_file), [auth])
    try:
        # Counted, and its record written when it began.
        record = wait_until(
            lambda: DownloadRecord.objects.filter(outcome=Outcome.IN_PROGRESS).first()
        )
        assert Quota.objects.get(user=user).current_quota == 1

        for worker in gunicorn_workers(url):
            worker.kill()  # SIGKILL: nothing of ours runs; gunicorn starts new workers

        record = wait_until(
            lambda: DownloadRecord.objects.filter(pk=record.pk, outcome=Outcome.ABORTED).first(),
            message="the lease sweep to close the killed download's record",
        )
    finally:
        reset(sock)
    assert "lease ran out" in record.error
    assert record.ended is not None
    assert not running_downloads().exists()
    assert Quota.objects.get(user=user).current_quota == 1
    headers = dict([auth.split(": ")])
    # rate_limit=1: the dead download's slot no longer blocks the client's resume, which
    # does not count again: the download it resumes was counted.
    resumed = requests.get(
        url + download_url(data_file), headers={**headers, "Range": "bytes=1000-"}, timeout=DEADLINE
    )
    assert resumed.status_code == 206
    assert len(resumed.content) == SIZE - 1000
    assert Quota.objects.get(user=user).current_quota == 1
    # Nor does the resume's slot outlive it.
    again = requests.get(url + download_url(data_file), headers=headers, timeout=DEADLINE)
    assert again.status_code == 200
