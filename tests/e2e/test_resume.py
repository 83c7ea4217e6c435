"""Real download clients resume an interrupted download through the API (SPEC §4 Range)."""

import hashlib
import os
import subprocess

import pytest

from downloads.models import DownloadRecord, Quota
from products.models import AccessRight
from tests.factories import AccessGroupFactory, AccessRightFactory, QuotaFactory, UserFactory
from tests.helpers import download_url, external, finished_records, running_downloads
from tests.processes import running, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SIZE = 4 * 1024 * 1024 + 5


@pytest.fixture
def private_file(stored_file):
    """A ~4 MiB file only members of a science group may download, and such a member."""
    content = os.urandom(SIZE)
    data_file = stored_file(
        content, filename="scene.bin", file_access=AccessRight.FileAccess.NO_ACCESS
    )
    user = UserFactory()
    AccessRightFactory(group=AccessGroupFactory(members=[user]), dataset=data_file.product.dataset)
    return data_file, user, content


def wait_for_records(count):
    """The download records, oldest first, once `count` of them have been written."""

    def records():
        found = list(finished_records().order_by("started"))
        return found if len(found) >= count else None

    return wait_until(records, message=f"{count} download records")


def md5_of(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_curl_resumes_a_partly_downloaded_file(live_server, private_file, token_for, tmp_path):
    # curl 7.88 ignores --limit-rate on loopback, so --max-time cannot be relied on to cut
    # the first run short: the part an interrupted run leaves behind is written directly.
    curl = external("curl")
    data_file, user, content = private_file
    url = live_server.url + download_url(data_file)
    output = tmp_path / "scene.bin"
    partial = 1024 * 1024 + 123
    output.write_bytes(content[:partial])

    resumed = subprocess.run(
        [curl, "-sS", "-f", "-C", "-", "-o", output]
        + ["-H", f"Authorization: Bearer {token_for(user)}", url],
        capture_output=True,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert md5_of(output) == data_file.checksum == hashlib.md5(content).hexdigest()

    (record,) = wait_for_records(1)
    assert (record.status_code, record.range_start) == (206, partial)
    assert (record.bytes_expected, record.bytes_sent) == (SIZE - partial, SIZE - partial)
    assert record.outcome == DownloadRecord.Outcome.COMPLETED
    assert record.user == user


def test_curl_resumes_after_a_first_part_fetched_with_a_range(
    live_server, private_file, token_for, tmp_path
):
    curl = external("curl")
    data_file, user, _ = private_file
    url = live_server.url + download_url(data_file)
    output = tmp_path / "scene.bin"
    auth = ["-H", f"Authorization: Bearer {token_for(user)}"]

    first_part = subprocess.run(
        [curl, "-sS", "-f", "-r", "0-999999", "-o", output, *auth, url],
        capture_output=True,
        timeout=60,
    )
    assert first_part.returncode == 0, first_part.stderr
    assert output.stat().st_size == 1000000
    resumed = subprocess.run(
        [curl, "-sS", "-f", "-C", "-", "-o", output, *auth, url], capture_output=True, timeout=60
    )
    assert resumed.returncode == 0, resumed.stderr
    assert md5_of(output) == data_file.checksum

    first, second = wait_for_records(2)
    assert (first.status_code, first.range_start, first.bytes_sent) == (206, 0, 1000000)
    assert (second.status_code, second.range_start) == (206, 1000000)
    assert second.bytes_sent == SIZE - 1000000


def test_wget_resumes_a_partly_downloaded_file_with_a_query_token(
    live_server, private_file, token_for, tmp_path
):
    wget = external("wget")
    data_file, user, content = private_file
    url = live_server.url + download_url(data_file, token=token_for(user))
    output = tmp_path / "scene.bin"
    partial = 1024 * 1024 + 123
    output.write_bytes(content[:partial])  # what an interrupted earlier run left behind

    resumed = subprocess.run([wget, "-q", "-c", "-O", output, url], capture_output=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    assert md5_of(output) == data_file.checksum

    (record,) = wait_for_records(1)
    assert (record.status_code, record.range_start) == (206, partial)
    assert record.bytes_sent == SIZE - partial
    assert record.outcome == DownloadRecord.Outcome.COMPLETED
    assert record.user == user


def test_wget_resumes_after_being_killed_midway(live_server, private_file, token_for, tmp_path):
    wget = external("wget")
    data_file, user, _ = private_file
    url = live_server.url + download_url(data_file, token=token_for(user))
    output = tmp_path / "scene.bin"

    # Stopped as soon as it has written something: at 256 KiB/s it is far from done.
    def has_written():
        return output.exists() and output.stat().st_size > 0

    command = [wget, "-q", "--limit-rate=256k", "-O", output, url]
    with running(command, ready=has_written, log=tmp_path / "wget.log", name="wget"):
        pass
    partial = output.stat().st_size
    assert 0 < partial < SIZE

    resumed = subprocess.run([wget, "-q", "-c", "-O", output, url], capture_output=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    assert md5_of(output) == data_file.checksum

    first, second = wait_for_records(2)
    assert first.range_start == 0
    assert (second.status_code, second.range_start) == (206, partial)
    assert second.outcome == DownloadRecord.Outcome.COMPLETED


def test_curl_resume_of_a_complete_file_downloads_nothing_more(
    live_server, private_file, token_for, tmp_path
):
    curl = external("curl")
    data_file, user, content = private_file
    url = live_server.url + download_url(data_file)
    output = tmp_path / "scene.bin"
    output.write_bytes(content)

    resumed = subprocess.run(
        [
            curl,
            "-sS",
            "-C",
            "-",
            "-o",
            output,
            "-H",
            f"Authorization: Bearer {token_for(user)}",
            url,
        ],
        capture_output=True,
        timeout=60,
    )
    # curl takes the 416 with `Content-Range: bytes */size` as "already complete".
    assert resumed.returncode == 0, resumed.stderr
    assert md5_of(output) == data_file.checksum
    assert not DownloadRecord.objects.exists()


def test_aria2c_fetching_one_file_over_four_connections_counts_one_download(
    live_server, private_file, token_for, tmp_path
):
    """aria2c splits the file: a first request from byte 0, then ranges further on, while
    the first still runs. Those ranges resume a counted download: one download in all,
    so a quota of one is enough."""
    data_file, user, _ = private_file
    QuotaFactory(user=user, max_quota=1)

    fetched = subprocess.run(
        [
            external("aria2c"),
            "--split=4",
            "--max-connection-per-server=4",
            "--min-split-size=1M",
            # About a second in all: the file cannot come whole through the first
            # connection before aria2c opens the others.
            "--max-download-limit=4M",
            "--file-allocation=none",
            "--console-log-level=warn",
            "--summary-interval=0",
            f"--header=Authorization: Bearer {token_for(user)}",
            "-d",
            str(tmp_path),
            "-o",
            "scene.bin",
            live_server.url + download_url(data_file),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert md5_of(tmp_path / "scene.bin") == data_file.checksum
    wait_until(lambda: not running_downloads().exists(), message="the downloads' ends")
    records = list(DownloadRecord.objects.order_by("range_start"))
    assert len(records) > 1  # split indeed
    assert records[0].range_start == 0
    assert all(record.status_code == 206 for record in records[1:])
    assert {record.outcome for record in records} <= {"COMPLETED", "ABORTED"}
    quota = Quota.objects.get(user=user)
    assert quota.current_quota == 1
    # What aria2c read, and no more: each connection's unsent bytes were given back.
    assert quota.current_volume == sum(record.bytes_sent for record in records) >= SIZE
