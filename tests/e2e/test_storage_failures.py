"""A storage that fails before the first byte, under gunicorn: a JSON 502 that costs
nothing, however often it is tried, and a record of what happened."""

import threading

import pytest
import requests

from downloads.models import DownloadRecord, Quota
from tests.factories import AccessGroupFactory, AccessRightFactory, QuotaFactory, UserFactory
from tests.helpers import assert_api_error, download_url, finished_records
from tests.processes import DEADLINE, wait_until
from tests.storage_client.test_http import _RawServer

pytestmark = pytest.mark.django_db(transaction=True)

Outcome = DownloadRecord.Outcome
CONTENT = b"the bytes the catalog knows\n" * 1000  # 28 KB: one chunk


@pytest.fixture
def private_remote_file(stored_file, token_for):
    """A private file on the `remote` location, and a user's token header: 5 downloads."""
    data_file = stored_file(CONTENT, location="remote", file_access="NO_ACCESS")
    user = UserFactory()
    AccessRightFactory(group=AccessGroupFactory(members=[user]), dataset=data_file.product.dataset)
    QuotaFactory(user=user, max_quota=5)
    return data_file, user, {"Authorization": f"Bearer {token_for(user)}"}


def remote(url, timeout=30):
    return {"remote": {"backend": "http", "url": url + "/{key}", "timeout": timeout}}


def assert_each_try_is_a_free_502(url, auth, user, code, outcome):
    for tries in (1, 2, 3):
        assert_api_error(requests.get(url, headers=auth, timeout=DEADLINE), 502, code)
        wait_until(lambda n=tries: finished_records().count() == n)
    quota = Quota.objects.get(user=user)
    assert (quota.current_quota, quota.current_volume) == (0, 0)
    records = DownloadRecord.objects.all()
    assert {(r.outcome, r.status_code, r.bytes_sent) for r in records} == {(outcome, 502, 0)}


def test_a_corrupt_one_chunk_file_is_a_free_json_502_under_gunicorn(
    start_gunicorn, nginx_server, private_remote_file
):
    data_file, user, auth = private_remote_file
    (nginx_server.root / data_file.storage_key).write_bytes(CONTENT.upper())  # same size
    app = start_gunicorn(locations=remote(nginx_server.url))

    assert_each_try_is_a_free_502(
        app + download_url(data_file), auth, user, "storage_corrupt", Outcome.CORRUPT
    )


def test_a_storage_stalling_after_its_headers_is_a_free_json_502_under_gunicorn(
    start_gunicorn, private_remote_file
):
    data_file, user, auth = private_remote_file
    release = threading.Event()

    def headers_then_nothing(conn):
        conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(CONTENT)}\r\n\r\n".encode())
        release.wait(DEADLINE)

    with _RawServer(headers_then_nothing) as storage:
        try:
            app = start_gunicorn(locations=remote(storage.url, timeout=0.5))
            assert_each_try_is_a_free_502(
                app + download_url(data_file),
                auth,
                user,
                "storage_unavailable",
                Outcome.STORAGE_ERROR,
            )
        finally:
            release.set()
