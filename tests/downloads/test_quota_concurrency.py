"""Quotas under real concurrency: parallel HTTP clients against a live server (SPEC §3).

The live server answers each connection in its own thread with its own database
connection, so these tests exercise the conditional updates and row locks for real, on
SQLite and on PostgreSQL alike.
"""

from collections import Counter

import pytest
import requests

from downloads.models import DownloadRecord, Quota
from tests.factories import QuotaFactory, UserFactory
from tests.helpers import assert_api_error, download_url, parallel_gets, running_downloads
from tests.processes import wait_until

Outcome = DownloadRecord.Outcome
PARALLEL = 50
MAX_QUOTA = 10
# Large enough that the server is still blocked writing it when a client stops reading:
# far more than the socket buffers between client and server can hold.
LARGE = 32 * 1024 * 1024


@pytest.fixture
def quota_user(transactional_db):
    """quota_user(**limits) → a user with those limits of their own."""

    def make(**limits):
        user = UserFactory()
        QuotaFactory(user=user, **limits)
        return user

    return make


@pytest.fixture
def auth_for(token_for):
    return lambda user: {"Authorization": f"Bearer {token_for(user)}"}


def test_fifty_parallel_downloads_against_max_quota_10_give_exactly_10(
    live_server, transactional_db, stored_file, quota_user, auth_for
):
    content = b"concurrently wanted bytes\n" * 100
    data_file = stored_file(content)
    user = quota_user(max_quota=MAX_QUOTA)
    url = live_server.url + download_url(data_file)

    results = parallel_gets(url, headers=auth_for(user), count=PARALLEL)

    assert Counter(status for status, _ in results) == {200: MAX_QUOTA, 429: PARALLEL - MAX_QUOTA}
    assert {body for status, body in results if status == 200} == {content}
    assert {code for status, code in results if status == 429} == {"quota_exceeded"}
    quota = Quota.objects.get(user=user)
    assert quota.current_quota == MAX_QUOTA
    wait_until(lambda: not running_downloads().exists(), message="all slots released")
    wait_until(
        lambda: DownloadRecord.objects.filter(outcome=Outcome.COMPLETED).count() == MAX_QUOTA,
        message="the completed downloads' records",
    )
    quota.refresh_from_db()
    assert quota.current_volume == MAX_QUOTA * len(content)


def test_forty_parallel_downloads_against_max_volume_give_exactly_what_fits(
    live_server, transactional_db, stored_file, quota_user, auth_for
):
    content = bytes(range(256)) * 5 + b"x" * 185  # 1,465 bytes
    max_volume = 5000
    data_file = stored_file(content)
    user = quota_user(max_volume=max_volume)
    url = live_server.url + download_url(data_file)
    parallel = 40

    results = parallel_gets(url, headers=auth_for(user), count=parallel)

    fits = max_volume // len(content)
    assert Counter(status for status, _ in results) == {200: fits, 429: parallel - fits}
    assert {body for status, body in results if status == 200} == {content}
    assert {code for status, code in results if status == 429} == {"quota_exceeded"}
    wait_until(lambda: not running_downloads().exists(), message="all slots released")
    wait_until(
        lambda: DownloadRecord.objects.filter(outcome=Outcome.COMPLETED).count() == fits,
        message="the completed downloads' records",
    )
    quota = Quota.objects.get(user=user)
    assert (quota.current_quota, quota.current_volume) == (fits, fits * len(content))


def test_rate_limit_2_refuses_a_third_open_stream_until_one_is_closed(
    live_server, transactional_db, stored_file, quota_user, auth_for
):
    content = bytes(range(256)) * (LARGE // 256)
    data_file = stored_file(content)
    user = quota_user(rate_limit=2)
    url = live_server.url + download_url(data_file)
    headers = auth_for(user)
    open_streams = []

    def start_stream():
        response = requests.get(url, headers=headers, stream=True, timeout=30)
        open_streams.append(response)
        return response

    try:
        for _ in range(2):
            response = start_stream()
            assert response.status_code == 200
            assert next(response.iter_content(64 * 1024)) == content[: 64 * 1024]
        assert running_downloads().filter(quota__user=user).count() == 2

        third = start_stream()
        assert_api_error(third, 429, "rate_limited")
        assert int(third.headers["Retry-After"]) > 0

        open_streams[0].close()  # the client goes away mid-file
        wait_until(
            lambda: running_downloads().filter(quota__user=user).count() == 1,
            message="the aborted download's slot to be released",
        )
        aborted = DownloadRecord.objects.get(outcome=Outcome.ABORTED)
        assert 0 < aborted.bytes_sent < len(content)

        fourth = start_stream()
        assert fourth.status_code == 200
        assert next(fourth.iter_content(64 * 1024)) == content[: 64 * 1024]
    finally:
        for response in open_streams:
            response.close()
        # Let the server threads finish their writes before the tables are flushed.
        wait_until(lambda: not running_downloads().exists(), message="every slot released")

    assert Quota.objects.get(user=user).current_quota == 3
