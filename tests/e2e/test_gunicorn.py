"""The production path: gunicorn (gthread workers, sendfile) serving the real app on the
test database. Under sendfile Python never sees the bytes; the record and the quota slot
must still be right when the response closes."""

import hashlib
import os
import socket
import struct
import subprocess
from collections import Counter

import pytest
import requests

from downloads.models import DownloadRecord, Quota
from tests.factories import AccessGroupFactory, AccessRightFactory, QuotaFactory, UserFactory
from tests.helpers import (
    download_url,
    external,
    finished_records,
    parallel_gets,
    running_downloads,
)
from tests.processes import DEADLINE, ProcessGroup, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SIZE = 64 * 1024 * 1024
MiB = 1024 * 1024
# What the kernel may hold between gunicorn's sendfile and a client killed meanwhile: sent
# by the server, never received. The send buffer alone may reach 4 MiB (tcp_wmem), plus
# the receive buffer of a client reading slowly (4.5 MiB in all measured here).
SOCKET_BUFFERS = 8 * MiB


@pytest.fixture
def private_file(stored_file, token_for):
    """A big private file, a user allowed to download it with a token, and a rate limit."""
    data_file = stored_file(os.urandom(SIZE), filename="big.bin", file_access="NO_ACCESS")
    user = UserFactory()
    group = AccessGroupFactory(members=[user])
    AccessRightFactory(group=group, dataset=data_file.product.dataset)
    QuotaFactory(user=user, rate_limit=1, max_quota=5)
    return data_file, user, {"Authorization": f"Bearer {token_for(user)}"}


def test_a_sendfile_download_is_recorded_whole_and_frees_its_slot(gunicorn, private_file):
    data_file, user, auth = private_file

    response = requests.get(gunicorn + download_url(data_file), headers=auth, timeout=30)

    assert response.status_code == 200
    assert len(response.content) == SIZE
    record = wait_until(finished_records().first)
    assert (record.outcome, record.bytes_sent, record.user) == ("COMPLETED", SIZE, user)
    assert wait_until(lambda: not running_downloads().exists())
    quota = Quota.objects.get(user=user)
    assert (quota.current_quota, quota.current_volume) == (1, SIZE)


def test_a_client_hanging_up_under_sendfile_is_recorded_and_frees_its_slot(gunicorn, private_file):
    data_file, user, auth = private_file
    port = int(gunicorn.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    request = f"GET {download_url(data_file)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    sock.sendall(f"{request}Authorization: {auth['Authorization']}\r\n\r\n".encode())
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    assert wait_until(running_downloads().exists)  # streaming: the one slot is taken
    second = requests.get(gunicorn + download_url(data_file), headers=auth, timeout=30)
    assert (second.status_code, second.json()["code"]) == (429, "rate_limited")

    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset, as a killed client sends

    record = wait_until(lambda: DownloadRecord.objects.filter(outcome="ABORTED").first())
    assert record.user == user
    assert 0 < record.bytes_sent < SIZE
    assert wait_until(lambda: not running_downloads().exists())
    assert Quota.objects.get(user=user).current_volume == record.bytes_sent  # the rest back


def test_curl_killed_midway_under_sendfile_is_charged_what_was_sent_then_resumes(
    gunicorn, private_file, tmp_path
):
    curl = external("curl")
    data_file, user, auth = private_file
    url = gunicorn + download_url(data_file)
    output = tmp_path / "big.bin"
    header = ["-H", f"Authorization: {auth['Authorization']}"]

    with ProcessGroup(
        [curl, "-sS", "--limit-rate", "4M", "-o", output, *header, url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ):  # killed on the way out, whatever happens
        wait_until(lambda: output.exists() and output.stat().st_size >= 8 * MiB)
    partial = output.stat().st_size
    assert partial < SIZE

    aborted = wait_until(lambda: DownloadRecord.objects.filter(outcome="ABORTED").first())
    assert partial <= aborted.bytes_sent <= partial + SOCKET_BUFFERS
    assert wait_until(lambda: not running_downloads().exists())  # rate_limit=1: free it first
    resumed = subprocess.run(
        [curl, "-sS", "-f", "-C", "-", "-o", output, *header, url], capture_output=True, timeout=120
    )
    assert resumed.returncode == 0, resumed.stderr
    assert hashlib.md5(output.read_bytes()).hexdigest() == data_file.checksum

    wait_until(lambda: DownloadRecord.objects.filter(outcome="COMPLETED").exists())
    completed = DownloadRecord.objects.get(outcome="COMPLETED")
    assert (completed.range_start, completed.bytes_sent) == (partial, SIZE - partial)
    quota = Quota.objects.get(user=user)
    assert quota.current_quota == 1  # the resume is free
    assert SIZE <= quota.current_volume <= SIZE + SOCKET_BUFFERS
    assert quota.current_volume == aborted.bytes_sent + SIZE - partial


def test_a_range_of_a_file_never_started_counts_under_gunicorn(gunicorn, private_file, tmp_path):
    curl = external("curl")
    data_file, user, auth = private_file
    output = tmp_path / "tail.bin"

    fetched = subprocess.run(
        [curl, "-sS", "-f", "-r", "1000-", "-o", output]
        + ["-H", f"Authorization: {auth['Authorization']}", gunicorn + download_url(data_file)],
        capture_output=True,
        timeout=120,
    )

    assert fetched.returncode == 0, fetched.stderr
    assert output.stat().st_size == SIZE - 1000
    record = wait_until(lambda: DownloadRecord.objects.filter(outcome="COMPLETED").first())
    assert (record.status_code, record.range_start, record.bytes_sent) == (206, 1000, SIZE - 1000)
    assert wait_until(lambda: not running_downloads().exists())
    quota = Quota.objects.get(user=user)
    assert (quota.current_quota, quota.current_volume) == (1, SIZE - 1000)


def test_forty_parallel_downloads_against_max_volume_under_gunicorn_give_exactly_what_fits(
    gunicorn, stored_file, token_for
):
    content = bytes(range(256)) * 5 + b"x" * 185  # 1,465 bytes
    max_volume = 5000
    data_file = stored_file(content, file_access="NO_ACCESS")
    user = UserFactory()
    AccessRightFactory(group=AccessGroupFactory(members=[user]), dataset=data_file.product.dataset)
    QuotaFactory(user=user, max_quota=-1, rate_limit=-1, max_volume=max_volume)
    url, auth = gunicorn + download_url(data_file), {"Authorization": f"Bearer {token_for(user)}"}
    parallel = 40

    results = parallel_gets(url, headers=auth, count=parallel)

    fits = max_volume // len(content)
    assert Counter(status for status, _ in results) == {200: fits, 429: parallel - fits}
    assert {body for status, body in results if status == 200} == {content}
    assert {code for status, code in results if status == 429} == {"quota_exceeded"}
    assert wait_until(lambda: not running_downloads().exists())
    assert wait_until(lambda: DownloadRecord.objects.filter(outcome="COMPLETED").count() == fits)
    quota = Quota.objects.get(user=user)
    assert (quota.current_quota, quota.current_volume) == (fits, fits * len(content))
