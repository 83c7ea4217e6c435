"""Download quotas: checks 9 and 9b of SPEC §4 and the counting rules of SPEC §3."""

from datetime import timedelta

import pytest
from django.utils import timezone

from downloads import quotas
from downloads.models import DownloadRecord, Quota, QuotaDefaults
from products.models import DataFile
from tests.factories import QuotaFactory, RunningDownloadFactory, UserFactory
from tests.helpers import assert_api_error, body_of, download_url, run_command, running_downloads

pytestmark = pytest.mark.django_db

CONTENT = b"0123456789 private bytes\n"
Outcome = DownloadRecord.Outcome


def limits(user, *, max_quota=None, rate_limit=None, max_volume=None):
    """Give `user` their own limits (None = the default applies)."""
    return Quota.objects.update_or_create(
        user=user,
        defaults={"max_quota": max_quota, "rate_limit": rate_limit, "max_volume": max_volume},
    )[0]


def set_defaults(*, max_quota=-1, rate_limit=-1, max_volume=-1):
    QuotaDefaults.objects.update_or_create(
        pk=1,
        defaults={"max_quota": max_quota, "rate_limit": rate_limit, "max_volume": max_volume},
    )


def usage(**lookup):
    """(currentQuota, currentVolume) of a user's or an address's quota; (0, 0) if none yet."""
    quota = Quota.objects.filter(**lookup).first()
    return (0, 0) if quota is None else (quota.current_quota, quota.current_volume)


def download(client, data_file, **extra):
    """GET the file and read the whole body (which closes the response)."""
    response = client.get(download_url(data_file), **extra)
    if response.status_code in (200, 206):
        response.body = body_of(response)
    return response


def hold_slot(quota, *, seconds=60):
    return RunningDownloadFactory(quota=quota, seconds_left=seconds)


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def client(client_for, user):
    return client_for(user)


@pytest.fixture
def private_file(stored_file):
    return stored_file(CONTENT)


# What counts.


def test_a_download_from_byte_zero_counts_once_and_adds_its_bytes(client, user, private_file):
    response = download(client, private_file)

    assert response.status_code == 200
    assert response.body == CONTENT
    assert usage(user=user) == (1, len(CONTENT))


def test_a_resume_does_not_count_but_adds_its_bytes_to_the_volume(client, user, private_file):
    download(client, private_file)

    response = download(client, private_file, HTTP_RANGE="bytes=5-")

    assert response.status_code == 206
    assert response.body == CONTENT[5:]
    assert usage(user=user) == (1, 2 * len(CONTENT) - 5)


def test_a_range_from_byte_zero_counts(client, user, private_file):
    response = download(client, private_file, HTTP_RANGE="bytes=0-4")

    assert response.status_code == 206
    assert usage(user=user) == (1, 5)


def test_a_range_on_a_file_never_started_counts(client, user, private_file):
    response = download(client, private_file, HTTP_RANGE="bytes=5-")

    assert response.status_code == 206
    assert response.body == CONTENT[5:]
    assert usage(user=user) == (1, len(CONTENT) - 5)


def test_a_suffix_range_on_a_file_never_started_counts(client, user, private_file):
    response = download(client, private_file, HTTP_RANGE="bytes=-3")

    assert response.status_code == 206
    assert response.body == CONTENT[-3:]
    assert usage(user=user) == (1, 3)


def test_a_range_on_a_file_never_started_is_refused_when_the_count_is_used_up(
    client, user, private_file, stored_file
):
    limits(user, max_quota=1)
    other = stored_file(b"another private file\n")
    assert download(client, other).status_code == 200

    head = client.head(download_url(private_file), HTTP_RANGE="bytes=1-")
    response = client.get(download_url(private_file), HTTP_RANGE="bytes=1-")

    assert head.status_code == 429
    assert_api_error(response, 429, "quota_exceeded")
    assert usage(user=user) == (1, len(b"another private file\n"))


def test_resuming_a_counted_range_does_not_count_again(client, user, private_file):
    limits(user, max_quota=1)
    assert download(client, private_file, HTTP_RANGE="bytes=5-9").status_code == 206

    response = download(client, private_file, HTTP_RANGE="bytes=10-")

    assert response.status_code == 206
    assert response.body == CONTENT[10:]
    assert usage(user=user) == (1, len(CONTENT) - 5)


def test_a_resume_after_a_quota_reset_counts_again(client, user, private_file):
    limits(user, max_quota=1)
    download(client, private_file)
    run_command("reset_quotas", "--user", user.email)

    first = download(client, private_file, HTTP_RANGE="bytes=5-")
    assert first.status_code == 206
    assert usage(user=user) == (1, len(CONTENT) - 5)

    # That range is the new period's counted download: the next one is its resume.
    again = download(client, private_file, HTTP_RANGE="bytes=-1")
    assert again.status_code == 206
    assert usage(user=user) == (1, len(CONTENT) - 4)


def test_a_resume_after_its_worker_died_does_not_count_again(client, user, private_file):
    """A host dies mid-download: its record is closed by the lease sweep, how many bytes
    went out unknown (none recorded). The client resumes elsewhere: the download it
    resumes was counted, so the resume is not."""
    limits(user, max_quota=1)
    started = client.get(download_url(private_file))  # the body is never read: no finish
    assert started.status_code == 200
    assert usage(user=user) == (1, len(CONTENT))
    running_downloads().update(lease_expires=timezone.now() - timedelta(seconds=1))
    assert quotas.slot_sweep() == 1
    assert DownloadRecord.objects.get().bytes_sent == 0

    response = download(client, private_file, HTTP_RANGE="bytes=10-")

    assert response.status_code == 206
    assert response.body == CONTENT[10:]
    # The dead download's reserved bytes stay charged (never undercharge), plus the resume's.
    assert usage(user=user) == (1, len(CONTENT) * 2 - 10)


def test_an_attempt_that_sent_nothing_is_no_download_to_resume(client, user, private_file):
    limits(user, max_quota=0)
    assert_api_error(client.get(download_url(private_file)), 429, "quota_exceeded")

    response = client.get(download_url(private_file), HTTP_RANGE="bytes=5-")

    assert_api_error(response, 429, "quota_exceeded")
    assert usage(user=user) == (0, 0)


def test_another_users_download_is_no_download_to_resume(client, client_for, private_file):
    download(client, private_file)
    other = UserFactory()
    limits(other, max_quota=0)

    response = client_for(other).get(download_url(private_file), HTTP_RANGE="bytes=5-")

    assert_api_error(response, 429, "quota_exceeded")


def test_an_anonymous_resume_is_per_client_address(api_client, private_file):
    set_defaults(max_quota=1)
    assert download(api_client, private_file, REMOTE_ADDR="10.0.0.1").status_code == 200

    resumed = download(api_client, private_file, REMOTE_ADDR="10.0.0.1", HTTP_RANGE="bytes=5-")
    elsewhere = download(api_client, private_file, REMOTE_ADDR="10.0.0.2", HTTP_RANGE="bytes=5-")

    assert (resumed.status_code, elsewhere.status_code) == (206, 206)
    assert usage(client_address="10.0.0.1") == (1, 2 * len(CONTENT) - 5)
    assert usage(client_address="10.0.0.2") == (1, len(CONTENT) - 5)


def test_head_never_counts(client, user, private_file):
    limits(user, max_quota=1, rate_limit=1, max_volume=len(CONTENT))
    for _ in range(3):
        response = client.head(download_url(private_file))
        assert response.status_code == 200
        assert response["Content-Length"] == str(len(CONTENT))

    assert usage(user=user) == (0, 0)
    assert not running_downloads().exists()
    assert download(client, private_file).status_code == 200


def test_head_tells_when_the_quota_is_used_up_without_consuming_anything(
    client, user, private_file
):
    limits(user, max_quota=1)
    download(client, private_file)

    response = client.head(download_url(private_file))

    assert response.status_code == 429
    assert usage(user=user) == (1, len(CONTENT))


def test_a_file_missing_in_storage_consumes_nothing(client, user, private_file, storage):
    limits(user, max_quota=1, rate_limit=1, max_volume=len(CONTENT))
    path = storage.root / "online" / private_file.storage_key
    path.unlink()

    response = client.get(download_url(private_file))

    assert_api_error(response, 502, "storage_file_missing")
    assert usage(user=user) == (0, 0)
    assert not running_downloads().exists()

    path.write_bytes(CONTENT)  # the archive team puts it back: the one download is still there
    assert download(client, private_file).status_code == 200
    assert usage(user=user) == (1, len(CONTENT))


@pytest.mark.parametrize(
    "data_type",
    [DataFile.DataType.QUICKLOOK_SD, DataFile.DataType.THUMBNAIL, DataFile.DataType.DESCRIPTION],
)
def test_public_file_types_never_count_and_ignore_exhausted_limits(
    client, user, stored_file, data_type
):
    data_file = stored_file(b"quicklook\n", data_type=data_type)
    limits(user, max_quota=0, rate_limit=0, max_volume=0)

    for _ in range(2):
        response = download(client, data_file)
        assert response.status_code == 200
        assert response.body == b"quicklook\n"

    assert usage(user=user) == (0, 0)
    assert written_records() == [Outcome.COMPLETED, Outcome.COMPLETED]


def test_a_public_file_type_is_recorded_whole_when_its_response_closes(client, user, stored_file):
    """It holds no slot and counts nothing: nothing is written before its response ends."""
    data_file = stored_file(b"quicklook\n", data_type=DataFile.DataType.QUICKLOOK_SD)

    response = client.get(download_url(data_file))

    assert response.status_code == 200
    assert written_records() == []
    assert body_of(response) == b"quicklook\n"
    (record,) = DownloadRecord.objects.all()
    assert (record.outcome, record.bytes_sent, record.user) == (
        Outcome.COMPLETED,
        len(b"quicklook\n"),
        user,
    )
    assert record.ended >= record.started
    assert (record.quota, record.lease_expires) == (None, None)


# Closing a response fires request_finished, which closes the database connection as a
# WSGI server's would: only a transactional test survives that.
@pytest.mark.django_db(transaction=True)
def test_a_public_file_type_closed_early_is_recorded_aborted_with_what_was_read(
    client, stored_file
):
    content = bytes(range(256)) * 8192  # 2 MiB: more than one block
    data_file = stored_file(content, data_type=DataFile.DataType.QUICKLOOK_HD)

    response = client.get(download_url(data_file))
    first_block = next(iter(response.streaming_content))
    response.close()

    (record,) = DownloadRecord.objects.all()
    assert 0 < len(first_block) < len(content)
    assert (record.outcome, record.bytes_sent) == (Outcome.ABORTED, len(first_block))


@pytest.mark.parametrize(
    "data_type",
    [
        DataFile.DataType.DOCUMENT,
        DataFile.DataType.OTHER,
        DataFile.DataType.AIP,
        DataFile.DataType.QUICKLOOK_SD,  # public: costs nothing at all (above)
    ],
)
def test_only_raw_data_counts_towards_max_quota(client, user, stored_file, data_type):
    """As REGARDS's FileDownloadService.isRawData: other types never use up maxQuota."""
    raw = stored_file(CONTENT)
    other = stored_file(b"a document\n", data_type=data_type)
    limits(user, max_quota=1)

    assert download(client, raw).status_code == 200
    assert_api_error(client.get(download_url(raw)), 429, "quota_exceeded")
    for _ in range(2):
        response = download(client, other)
        assert response.status_code == 200
        assert response.body == b"a document\n"

    counted_volume = 0 if data_type == DataFile.DataType.QUICKLOOK_SD else 2 * len(b"a document\n")
    assert usage(user=user) == (1, len(CONTENT) + counted_volume)


@pytest.mark.parametrize("data_type", [DataFile.DataType.DOCUMENT, DataFile.DataType.AIP])
def test_other_private_types_still_take_a_slot_and_use_the_volume(
    client, user, stored_file, data_type
):
    document = stored_file(b"a document\n", data_type=data_type)
    quota = limits(user, rate_limit=1)
    hold_slot(quota)

    assert_api_error(client.get(download_url(document)), 429, "rate_limited")
    limits(user, max_volume=5)
    assert_api_error(client.get(download_url(document)), 429, "quota_exceeded")
    assert usage(user=user) == (0, 0)


# maxQuota and maxVolume (check 9).


def test_max_quota_reached_is_429_quota_exceeded_and_recorded(client, user, private_file):
    limits(user, max_quota=2)
    assert download(client, private_file).status_code == 200
    assert download(client, private_file).status_code == 200

    response = client.get(download_url(private_file))

    assert_api_error(response, 429, "quota_exceeded")
    assert usage(user=user) == (2, 2 * len(CONTENT))
    refused = DownloadRecord.objects.get(outcome=Outcome.QUOTA_EXCEEDED)
    assert (refused.user, refused.data_file, refused.status_code, refused.bytes_sent) == (
        user,
        private_file,
        429,
        0,
    )
    assert DownloadRecord.objects.filter(outcome=Outcome.COMPLETED).count() == 2
    assert not running_downloads().exists()


@pytest.fixture
def meanwhile(monkeypatch):
    """meanwhile(change) → `change()` runs between check 9 and the download's begin, as a
    parallel download of the same quota would."""
    from downloads import checks

    def after_check_9(change):
        check = checks.quota_available

        def checked_then_changed(*args, **kwargs):
            claim = check(*args, **kwargs)
            change()
            return claim

        monkeypatch.setattr(checks, "quota_available", checked_then_changed)

    return after_check_9


def written_records():
    return sorted(DownloadRecord.objects.values_list("outcome", flat=True))


def test_the_last_download_taken_meanwhile_refuses_it_when_it_begins(
    client, user, private_file, meanwhile
):
    quota = limits(user, max_quota=2)
    meanwhile(lambda: Quota.objects.filter(pk=quota.pk).update(current_quota=2))

    response = client.get(download_url(private_file))

    assert_api_error(response, 429, "quota_exceeded")
    assert response.json()["currentQuota"] == 2
    # Nothing counted, reserved or left running: only the refusal is written.
    assert usage(user=user) == (2, 0)
    assert written_records() == [Outcome.QUOTA_EXCEEDED]


def test_the_last_bytes_taken_meanwhile_refuse_it_when_it_begins(
    client, user, private_file, meanwhile
):
    quota = limits(user, max_volume=len(CONTENT) + 5)
    meanwhile(lambda: Quota.objects.filter(pk=quota.pk).update(current_volume=10))

    response = client.get(download_url(private_file))

    assert_api_error(response, 429, "quota_exceeded")
    assert response.json()["remainingVolume"] == len(CONTENT) - 5
    assert usage(user=user) == (0, 10)
    assert written_records() == [Outcome.QUOTA_EXCEEDED]


def test_the_last_slot_taken_meanwhile_refuses_it_and_counts_nothing(
    client, user, private_file, meanwhile
):
    quota = limits(user, rate_limit=1)
    meanwhile(lambda: hold_slot(quota))

    response = client.get(download_url(private_file))

    assert_api_error(response, 429, "rate_limited")
    # The count and the volume taken before the slot was refused are rolled back.
    assert usage(user=user) == (0, 0)
    assert written_records() == [Outcome.IN_PROGRESS, Outcome.RATE_LIMITED]
    assert running_downloads().count() == 1  # the parallel one's


def test_a_download_that_begins_counts_and_writes_its_running_record_together(
    client, user, private_file
):
    limits(user, max_quota=5, max_volume=10**6)
    response = client.get(download_url(private_file))

    # Before the body is read: counted, reserved, and running with its slot.
    assert response.status_code == 200
    assert usage(user=user) == (1, len(CONTENT))
    (running,) = running_downloads()
    assert (running.outcome, running.user, running.quota.user) == (Outcome.IN_PROGRESS, user, user)
    assert body_of(response) == CONTENT
    assert written_records() == [Outcome.COMPLETED]


def test_max_quota_zero_refuses_the_first_download(client, user, private_file):
    limits(user, max_quota=0)

    response = client.get(download_url(private_file))

    assert_api_error(response, 429, "quota_exceeded")
    assert usage(user=user) == (0, 0)


def test_a_resume_is_still_allowed_when_max_quota_is_reached(client, user, private_file):
    limits(user, max_quota=1)
    download(client, private_file)

    response = download(client, private_file, HTTP_RANGE="bytes=5-")

    assert response.status_code == 206
    assert response.body == CONTENT[5:]
    assert usage(user=user) == (1, 2 * len(CONTENT) - 5)


def test_max_volume_reached_is_429_quota_exceeded(client, user, private_file):
    limits(user, max_volume=len(CONTENT))
    assert download(client, private_file).status_code == 200

    response = client.get(download_url(private_file))

    assert_api_error(response, 429, "quota_exceeded")
    assert DownloadRecord.objects.filter(outcome=Outcome.QUOTA_EXCEEDED).count() == 1
    assert usage(user=user) == (1, len(CONTENT))


def test_max_volume_reached_refuses_resumes_too(client, user, private_file):
    limits(user, max_volume=len(CONTENT))
    download(client, private_file)

    response = client.get(download_url(private_file), HTTP_RANGE="bytes=5-")

    assert_api_error(response, 429, "quota_exceeded")


def test_sequential_downloads_stop_exactly_where_the_volume_runs_out(client, user, private_file):
    limits(user, max_volume=2 * len(CONTENT) + 10)
    assert download(client, private_file).status_code == 200
    assert download(client, private_file).status_code == 200

    too_large = client.get(download_url(private_file))

    body = assert_api_error(too_large, 429, "quota_exceeded")
    assert (body["remainingVolume"], body["maxVolume"], body["currentVolume"]) == (
        10,
        2 * len(CONTENT) + 10,
        2 * len(CONTENT),
    )
    smaller = download(client, private_file, HTTP_RANGE="bytes=0-9")
    assert (smaller.status_code, smaller.body) == (206, CONTENT[:10])
    assert usage(user=user) == (3, 2 * len(CONTENT) + 10)
    one_more = client.get(download_url(private_file), HTTP_RANGE="bytes=10-10")
    assert_api_error(one_more, 429, "quota_exceeded", remainingVolume=0)
    assert not running_downloads().exists()


def test_a_range_larger_than_the_volume_left_is_refused_and_costs_nothing(
    client, user, private_file
):
    limits(user, max_volume=len(CONTENT) - 1)

    response = client.get(download_url(private_file), HTTP_RANGE="bytes=0-")

    assert_api_error(response, 429, "quota_exceeded", remainingVolume=len(CONTENT) - 1)
    assert usage(user=user) == (0, 0)
    refused = DownloadRecord.objects.get()
    assert (refused.outcome, refused.bytes_sent) == (Outcome.QUOTA_EXCEEDED, 0)


def test_head_tells_when_the_volume_left_is_too_small_without_reserving_it(
    client, user, private_file
):
    limits(user, max_volume=5)

    assert client.head(download_url(private_file)).status_code == 429
    assert client.head(download_url(private_file), HTTP_RANGE="bytes=0-4").status_code == 206
    assert usage(user=user) == (0, 0)


@pytest.mark.django_db(transaction=True)  # closing the response closes the connection
def test_a_reset_while_downloading_leaves_the_new_period_untouched(client, user, private_file):
    limits(user, max_volume=len(CONTENT))
    response = client.get(download_url(private_file), HTTP_RANGE="bytes=0-9")
    assert usage(user=user) == (1, 10)  # counted, and its bytes reserved
    run_command("reset_quotas", "--user", user.email)

    response.close()  # nothing read: its reservation went with the reset

    assert usage(user=user) == (0, 0)


def test_the_default_limit_applies_to_users_without_their_own(client, user, private_file):
    set_defaults(max_quota=1)
    assert download(client, private_file).status_code == 200

    response = client.get(download_url(private_file))

    assert_api_error(response, 429, "quota_exceeded")


def test_a_per_user_limit_overrides_the_default(client_for, private_file):
    set_defaults(max_quota=1)
    generous, strict, unlimited = UserFactory(), UserFactory(), UserFactory()
    limits(generous, max_quota=3)
    limits(strict, max_quota=0)
    limits(unlimited, max_quota=-1)

    assert [download(client_for(generous), private_file).status_code for _ in range(4)] == [
        200,
        200,
        200,
        429,
    ]
    assert download(client_for(strict), private_file).status_code == 429
    assert {download(client_for(unlimited), private_file).status_code for _ in range(5)} == {200}


def test_editing_the_defaults_applies_at_once(client, user, private_file):
    download(client, private_file)
    defaults = QuotaDefaults.current()
    defaults.max_quota = 1
    defaults.save()

    assert_api_error(client.get(download_url(private_file)), 429, "quota_exceeded")

    defaults.max_quota = 2
    defaults.save()
    assert download(client, private_file).status_code == 200


def test_minus_one_is_unlimited(client, user, private_file):
    set_defaults(max_quota=-1, rate_limit=-1, max_volume=-1)
    quota = limits(user)
    for _ in range(3):
        hold_slot(quota)

    statuses = [download(client, private_file).status_code for _ in range(12)]

    assert statuses == [200] * 12
    assert usage(user=user) == (12, 12 * len(CONTENT))


# rateLimit (check 9b).


def test_rate_limit_reached_by_a_live_slot_is_429_with_retry_after(
    client, user, private_file, settings
):
    settings.RATE_LIMIT_RETRY_AFTER = 7
    quota = limits(user, rate_limit=1)
    hold_slot(quota)

    response = client.get(download_url(private_file))

    assert_api_error(response, 429, "rate_limited")
    assert response["Retry-After"] == "7"
    assert usage(user=user) == (0, 0)
    assert running_downloads().count() == 1
    refused = DownloadRecord.objects.get(outcome=Outcome.RATE_LIMITED)
    assert (refused.outcome, refused.status_code) == (Outcome.RATE_LIMITED, 429)


def test_a_resume_takes_a_slot_too(client, user, private_file):
    quota = limits(user, rate_limit=1)
    hold_slot(quota)

    response = client.get(download_url(private_file), HTTP_RANGE="bytes=5-")

    assert_api_error(response, 429, "rate_limited")


def test_rate_limit_counts_only_live_slots_up_to_the_limit(client, user, private_file):
    quota = limits(user, rate_limit=2)
    hold_slot(quota)

    assert download(client, private_file).status_code == 200

    hold_slot(quota)
    assert_api_error(client.get(download_url(private_file)), 429, "rate_limited")


def test_an_expired_slot_no_longer_counts(client, user, private_file):
    quota = limits(user, rate_limit=1)
    hold_slot(quota, seconds=-1)

    response = download(client, private_file)

    assert response.status_code == 200
    assert response.body == CONTENT


def test_another_users_slot_does_not_count(client, user, private_file):
    limits(user, rate_limit=1)
    hold_slot(limits(UserFactory(), rate_limit=1))

    assert download(client, private_file).status_code == 200


def test_quota_is_checked_before_the_rate_limit(client, user, private_file):
    quota = limits(user, max_quota=0, rate_limit=1)
    hold_slot(quota)

    response = client.get(download_url(private_file))

    assert_api_error(response, 429, "quota_exceeded")


# Who is counted.


@pytest.mark.parametrize("kind", ["steward", "superuser"])
def test_stewards_and_superusers_are_still_counted(client_for, private_file, kind):
    user = UserFactory(steward=True) if kind == "steward" else UserFactory(is_superuser=True)
    limits(user, max_quota=1)
    client = client_for(user)

    assert download(client, private_file).status_code == 200
    assert usage(user=user) == (1, len(CONTENT))
    assert_api_error(client.get(download_url(private_file)), 429, "quota_exceeded")


def test_anonymous_downloads_are_counted_per_client_address(api_client, private_file):
    set_defaults(max_quota=1)

    first = download(api_client, private_file, REMOTE_ADDR="10.0.0.1")
    again = api_client.get(download_url(private_file), REMOTE_ADDR="10.0.0.1")
    other = download(api_client, private_file, REMOTE_ADDR="10.0.0.2")

    assert first.status_code == 200
    assert_api_error(again, 429, "quota_exceeded")
    assert other.status_code == 200
    assert usage(client_address="10.0.0.1") == (1, len(CONTENT))
    assert usage(client_address="10.0.0.2") == (1, len(CONTENT))
    refused = DownloadRecord.objects.get(outcome=Outcome.QUOTA_EXCEEDED)
    assert (refused.user, refused.client_address) == (None, "10.0.0.1")


def test_an_ipv6_caller_has_one_quota_however_its_address_is_written(api_client, private_file):
    """The quota row is found by the address as the database compares them (PostgreSQL
    `inet`): an IPv6 address counts once, in its compressed form."""
    set_defaults(max_quota=1)

    first = download(api_client, private_file, REMOTE_ADDR="2001:db8::1")
    again = api_client.get(download_url(private_file), REMOTE_ADDR="2001:db8:0:0:0:0:0:1")

    assert first.status_code == 200
    assert_api_error(again, 429, "quota_exceeded")
    assert usage(client_address="2001:db8::1") == (1, len(CONTENT))


def test_anonymous_callers_share_nothing_with_logged_in_users(api_client, client_for, private_file):
    set_defaults(max_quota=1)
    user = UserFactory()
    download(api_client, private_file, REMOTE_ADDR="10.0.0.1")

    response = download(client_for(user), private_file, REMOTE_ADDR="10.0.0.1")

    assert response.status_code == 200
    assert usage(user=user) == (1, len(CONTENT))
    assert usage(client_address="10.0.0.1") == (1, len(CONTENT))


def test_anonymous_rate_limit_is_per_client_address(api_client, private_file):
    set_defaults(rate_limit=1)
    hold_slot(QuotaFactory(client_address="10.0.0.1"))

    refused = api_client.get(download_url(private_file), REMOTE_ADDR="10.0.0.1")
    served = download(api_client, private_file, REMOTE_ADDR="10.0.0.2")

    assert_api_error(refused, 429, "rate_limited")
    assert "Retry-After" in refused
    assert served.status_code == 200


# The slot's life.


def test_a_completed_download_frees_its_slot_and_adds_the_bytes_sent(client, user, private_file):
    limits(user, rate_limit=1)

    response = client.get(download_url(private_file))
    assert response.status_code == 200
    assert running_downloads().count() == 1  # held while the body is being sent
    assert body_of(response) == CONTENT

    assert not running_downloads().exists()
    assert usage(user=user) == (1, len(CONTENT))
    record = DownloadRecord.objects.get()
    assert (record.outcome, record.bytes_sent) == (Outcome.COMPLETED, len(CONTENT))
    assert download(client, private_file).status_code == 200


# Closing a response fires request_finished, which closes the database connection as a
# WSGI server's would: only a transactional test survives that.
@pytest.mark.django_db(transaction=True)
def test_a_download_closed_early_frees_its_slot_and_counts_what_was_read(client, user, stored_file):
    content = bytes(range(256)) * 8192  # 2 MiB: more than one block
    data_file = stored_file(content)
    limits(user, rate_limit=1, max_volume=len(content))

    response = client.get(download_url(data_file))
    first_block = next(iter(response.streaming_content))
    response.close()

    assert not running_downloads().exists()
    assert 0 < len(first_block) < len(content)
    assert usage(user=user) == (1, len(first_block))  # the rest of the reservation came back
    record = DownloadRecord.objects.get()
    assert record.outcome == Outcome.ABORTED
    assert record.bytes_sent == len(first_block)
    rest = download(client, data_file, HTTP_RANGE=f"bytes={len(first_block)}-")
    assert rest.status_code == 206
    assert usage(user=user) == (1, len(content))
