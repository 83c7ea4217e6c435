"""The production path: gunicorn (gthread workers, sendfile) serving the real app on the
test database. Under sendfile Python never sees the bytes; the record and the quota slot
must still be right when the response closes."""

import json
import os
import pathlib
import socket
import struct
import subprocess
import sys
import time
from urllib.parse import quote

import pytest
import requests
from django.db import connection

from downloads.models import DownloadRecord, DownloadSlot, Quota
from tests.factories import AccessGroupFactory, AccessRightFactory, QuotaFactory, UserFactory
from tests.helpers import download_url
from tests.nginx import free_port

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = pathlib.Path(__file__).resolve().parents[2]
SIZE = 64 * 1024 * 1024


def database_url():
    """The test database, for a server running in another process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = quote(db["USER"] or "")
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


@pytest.fixture
def gunicorn(storage, tmp_path):
    config = tmp_path / "storage.json"
    online = storage.root / "online"
    online.mkdir(parents=True, exist_ok=True)
    config.write_text(
        json.dumps({"locations": {"online": {"backend": "local", "root": str(online)}}})
    )
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "STORAGE_CONFIG": str(config),
        "VAR_DIR": str(tmp_path / "var"),
        "PORT": str(port),
        "WORKERS": "1",
        "THREADS": "4",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "regards_catalog.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(url + "/api/v1/rs-catalog/licenses", timeout=1)
            break
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("gunicorn did not start")
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def private_file(stored_file, token_for):
    """A big private file, a user allowed to download it with a token, and a rate limit."""
    data_file = stored_file(os.urandom(SIZE), filename="big.bin", file_access="NO_ACCESS")
    user = UserFactory()
    group = AccessGroupFactory(members=[user])
    AccessRightFactory(group=group, dataset=data_file.product.dataset)
    QuotaFactory(user=user, rate_limit=1, max_quota=5)
    return data_file, user, {"Authorization": f"Bearer {token_for(user)}"}


def wait_for(condition, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"still false after {timeout}s")


def test_a_sendfile_download_is_recorded_whole_and_frees_its_slot(gunicorn, private_file):
    data_file, user, auth = private_file

    response = requests.get(gunicorn + download_url(data_file), headers=auth, timeout=30)

    assert response.status_code == 200
    assert len(response.content) == SIZE
    record = wait_for(DownloadRecord.objects.first)
    assert (record.outcome, record.bytes_sent, record.user) == ("COMPLETED", SIZE, user)
    assert wait_for(lambda: not DownloadSlot.objects.exists())
    quota = Quota.objects.get(user=user)
    assert (quota.current_quota, quota.current_volume) == (1, SIZE)


def test_a_client_hanging_up_under_sendfile_is_recorded_and_frees_its_slot(gunicorn, private_file):
    data_file, user, auth = private_file
    port = int(gunicorn.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    request = f"GET {download_url(data_file)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    sock.sendall(f"{request}Authorization: {auth['Authorization']}\r\n\r\n".encode())
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    assert wait_for(DownloadSlot.objects.exists)  # streaming: the one slot is taken
    second = requests.get(gunicorn + download_url(data_file), headers=auth, timeout=10)
    assert (second.status_code, second.json()["code"]) == (429, "rate_limited")

    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset, as a killed client sends

    record = wait_for(lambda: DownloadRecord.objects.filter(outcome="ABORTED").first())
    assert record.user == user
    assert wait_for(lambda: not DownloadSlot.objects.exists())
