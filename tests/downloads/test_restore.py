"""Restores from nearline storage, end to end: the API, process_restores and purge_cache
(SPEC §3 Availability, §4 download checks 8/8b and "Availability and restore")."""

import uuid
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from downloads import services
from downloads.models import DownloadRecord, RestoreRequest
from products.models import AccessRight, DataFile
from storage_client import CHUNK_SIZE
from tests.factories import DataFileFactory, UserFactory
from tests.helpers import assert_api_error, body_of, download_url, run_command

# process_restores closes stale connections between jobs, as a long-running worker must:
# it runs for real only outside a test transaction.
pytestmark = pytest.mark.django_db(transaction=True)

RESTORE = "/api/v1/rs-catalog/restore"
Status = RestoreRequest.Status


def ask_restore(client, *data_files):
    urns = list(dict.fromkeys(f.product.urn for f in data_files))
    return client.post(RESTORE, {"product_ids": urns}, format="json")


def restore_status(client, data_file):
    return client.get(f"{RESTORE}/{data_file.product.urn}")


def file_states(response):
    """{checksum: status} of the files of the first product in a restore answer."""
    body = response.json()
    product = body["products"][0] if "products" in body else body
    return {file["checksum"]: file["status"] for file in product["files"]}


def run_worker():
    return run_command("process_restores", "--once")


def expire_restores():
    RestoreRequest.objects.update(available_until=timezone.now() - timedelta(seconds=1))


def cached_copy(storage, data_file):
    return storage.root / "cache" / data_file.storage_key


def source_on_tape(storage, data_file):
    return storage.root / "nearline" / data_file.storage_key


def parse_date(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
def on_tape(stored_file):
    """A nearline file not restored yet, downloadable by anonymous callers."""
    return stored_file(b"bytes kept on tape\n" * 50, location="nearline")


# The whole cycle.


def test_a_nearline_file_goes_from_restore_required_to_downloadable_and_back(
    api_client, stored_file, file_in, storage
):
    content = b"bytes kept on tape\n" * 100
    nearline = stored_file(content, location="nearline")
    online = file_in(nearline.product, b"online bytes\n")
    url = download_url(nearline)

    required = assert_api_error(
        api_client.get(url),
        409,
        "restore_required",
        restore="http://testserver" + RESTORE,
        product_ids=[nearline.product.urn],
    )

    asked = api_client.post(
        required["restore"], {"product_ids": required["product_ids"]}, format="json"
    )
    assert asked.status_code == 200
    assert file_states(asked) == {nearline.checksum: "PENDING", online.checksum: "ONLINE"}

    pending = api_client.get(url)
    assert_api_error(pending, 503, "restore_pending")
    assert pending["Retry-After"] == str(settings.RESTORE_RETRY_AFTER)
    assert not cached_copy(storage, nearline).exists()

    output = run_worker()
    assert f"restored {nearline.filename} ({nearline.checksum})" in output
    assert "1 restored, 0 failed." in output
    assert cached_copy(storage, nearline).read_bytes() == content

    restored = api_client.get(url)
    assert restored.status_code == 200
    assert body_of(restored) == content

    expire_restores()
    assert cached_copy(storage, nearline).exists()
    assert_api_error(api_client.get(url), 409, "restore_required")

    output = run_command("purge_cache")
    assert f"purged {nearline.filename} ({nearline.checksum})" in output
    assert "1 expired copies purged." in output
    assert not cached_copy(storage, nearline).exists()
    assert RestoreRequest.objects.get().purged
    assert source_on_tape(storage, nearline).read_bytes() == content
    assert_api_error(api_client.get(url), 409, "restore_required")
    assert body_of(api_client.get(download_url(online))) == b"online bytes\n"


def test_head_tells_the_restore_state_too(api_client, on_tape):
    url = download_url(on_tape)
    assert api_client.head(url).status_code == 409

    ask_restore(api_client, on_tape)
    pending = api_client.head(url)
    assert pending.status_code == 503
    assert pending["Retry-After"] == str(settings.RESTORE_RETRY_AFTER)

    run_worker()
    restored = api_client.head(url)
    assert restored.status_code == 200
    assert restored["Content-Length"] == str(on_tape.filesize)


def test_a_running_restore_is_pending_for_downloads(api_client, on_tape):
    ask_restore(api_client, on_tape)
    claimed = services.restore_claim(worker="test-worker")
    assert claimed.data_file == on_tape

    response = api_client.get(download_url(on_tape))

    assert_api_error(response, 503, "restore_pending")
    assert file_states(restore_status(api_client, on_tape)) == {on_tape.checksum: "RUNNING"}
    assert file_states(ask_restore(api_client, on_tape)) == {on_tape.checksum: "RUNNING"}
    assert RestoreRequest.objects.count() == 1


def test_expiry_follows_restore_availability_hours(api_client, on_tape, settings):
    settings.RESTORE_AVAILABILITY_HOURS = 48
    ask_restore(api_client, on_tape)
    before = timezone.now()
    run_worker()

    restore = RestoreRequest.objects.get()
    [file] = restore_status(api_client, on_tape).json()["files"]

    assert before + timedelta(hours=48) <= restore.available_until
    assert restore.available_until <= timezone.now() + timedelta(hours=48)
    assert parse_date(file["expiration_date"]) == restore.available_until


# Asking for restores.


def test_the_restore_answer_lists_every_file_with_its_status(api_client, stored_file, file_in):
    nearline = stored_file(b"on tape\n", location="nearline")
    online = file_in(nearline.product, b"online\n")

    response = ask_restore(api_client, nearline)

    assert response.status_code == 200
    assert response["Retry-After"] == str(settings.RESTORE_RETRY_AFTER)
    assert response.json() == {
        "retryAfter": settings.RESTORE_RETRY_AFTER,
        "products": [
            {
                "id": nearline.product.urn,
                "files": [
                    {
                        "checksum": nearline.checksum,
                        "available": False,
                        "expiration_date": None,
                        "status": "PENDING",
                    },
                    {
                        "checksum": online.checksum,
                        "available": True,
                        "expiration_date": None,
                        "status": "ONLINE",
                    },
                ],
            }
        ],
    }


def test_asking_twice_queues_one_restore(client_for, on_tape):
    user = UserFactory()
    client = client_for(user)

    first = ask_restore(client, on_tape)
    second = ask_restore(client, on_tape)

    assert (first.status_code, second.status_code) == (200, 200)
    assert file_states(second) == {on_tape.checksum: "PENDING"}
    restore = RestoreRequest.objects.get()
    assert (restore.data_file, restore.requested_by, restore.status) == (
        on_tape,
        user,
        Status.PENDING,
    )


def test_an_available_file_is_not_requested_again(api_client, on_tape):
    ask_restore(api_client, on_tape)
    run_worker()
    done = RestoreRequest.objects.get()

    response = ask_restore(api_client, on_tape)

    assert response.status_code == 200
    assert "Retry-After" not in response and "retryAfter" not in response.json()
    [file] = response.json()["products"][0]["files"]
    assert (file["status"], file["available"]) == ("AVAILABLE", True)
    assert parse_date(file["expiration_date"]) == done.available_until
    assert list(RestoreRequest.objects.all()) == [done]


def test_only_nearline_files_get_restore_requests(api_client, stored_file, file_in):
    nearline = stored_file(b"on tape\n", location="nearline")
    online = file_in(nearline.product, b"online\n")
    reference = file_in(
        nearline.product, b"ref\n", reference=True, uri="https://elsewhere.example/r"
    )
    misplaced = file_in(nearline.product, b"misplaced\n")
    DataFile.objects.filter(pk=misplaced.pk).update(storage="nowhere")

    response = ask_restore(api_client, nearline)

    assert file_states(response) == {
        nearline.checksum: "PENDING",
        online.checksum: "ONLINE",
        reference.checksum: "ONLINE",
        misplaced.checksum: "UNKNOWN_LOCATION",
    }
    assert list(RestoreRequest.objects.values_list("data_file", flat=True)) == [nearline.pk]


def test_files_the_caller_may_not_download_are_not_restored(api_client, stored_file):
    hidden = DataFileFactory(storage="nearline")  # its dataset grants the public group nothing
    private = stored_file(
        b"private\n", location="nearline", file_access=AccessRight.FileAccess.NO_ACCESS
    )

    response = ask_restore(api_client, hidden, private)

    assert response.status_code == 200
    assert response.json() == {"products": [{"id": private.product.urn, "files": []}]}
    assert not RestoreRequest.objects.exists()


@pytest.mark.parametrize(
    "body", [{"product_ids": ["not-a-urn"]}, {"product_ids": "x"}, {}, [], {"product_ids": []}]
)
def test_a_malformed_restore_request_is_400(api_client, body):
    response = api_client.post(RESTORE, body, format="json")

    assert_api_error(response, 400, "invalid_request")
    assert not RestoreRequest.objects.exists()


def test_more_than_one_hundred_products_cannot_be_restored_at_once(api_client):
    ids = [f"URN:FEATURE:DATA:test:{uuid.uuid4()}:V1" for _ in range(101)]

    response = api_client.post(RESTORE, {"product_ids": ids}, format="json")

    assert_api_error(response, 400, "invalid_request")


# The restore status of a product.


def test_get_restore_starts_the_restore_and_follows_it(api_client, stored_file, file_in):
    """REGARDS's GET /restore/{id}: the first call queues the restore, later ones report."""
    nearline = stored_file(b"on tape\n", location="nearline")
    online = file_in(nearline.product, b"online\n")

    def nearline_file(retry_after):
        response = restore_status(api_client, nearline)
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == nearline.product.urn
        assert body["files"][1] == {
            "checksum": online.checksum,
            "available": True,
            "expiration_date": None,
            "status": "ONLINE",
        }
        assert response.get("Retry-After") == retry_after
        assert body.get("retryAfter") == (retry_after and int(retry_after))
        return body["files"][0]

    polling = str(settings.RESTORE_RETRY_AFTER)
    assert nearline_file(polling) == {
        "checksum": nearline.checksum,
        "available": False,
        "expiration_date": None,
        "status": "PENDING",
    }
    assert nearline_file(polling)["status"] == "PENDING"
    assert RestoreRequest.objects.count() == 1  # asking again queues nothing more
    run_worker()
    restored = nearline_file(None)  # nothing left to wait for
    assert (restored["status"], restored["available"]) == ("AVAILABLE", True)
    assert parse_date(restored["expiration_date"]) == RestoreRequest.objects.get().available_until
    expire_restores()
    assert nearline_file(polling)["status"] == "PENDING"  # expired: restored again
    assert RestoreRequest.objects.count() == 2


def test_get_restore_of_available_files_answers_at_once(api_client, stored_file):
    online = stored_file(b"online\n")
    cached = stored_file(b"restored\n", location="nearline", cached=True)

    for data_file, status in ((online, "ONLINE"), (cached, "AVAILABLE")):
        response = restore_status(api_client, data_file)
        assert response.status_code == 200
        assert "Retry-After" not in response and "retryAfter" not in response.json()
        assert file_states(response) == {data_file.checksum: status}
    assert RestoreRequest.objects.count() == 1  # the one that restored the cached copy


def test_a_client_polling_get_restore_reaches_the_download(api_client, on_tape):
    """What a REGARDS client does: GET the restore until every file is available, then
    download. No step waits on the server."""
    answers = [restore_status(api_client, on_tape)]
    run_worker()
    answers.append(restore_status(api_client, on_tape))

    assert [file_states(a)[on_tape.checksum] for a in answers] == ["PENDING", "AVAILABLE"]
    assert [a.get("Retry-After") for a in answers] == [str(settings.RESTORE_RETRY_AFTER), None]
    assert body_of(api_client.get(download_url(on_tape))) == b"bytes kept on tape\n" * 50


def test_get_restore_reports_a_failed_restore_without_asking_again(api_client, on_tape, storage):
    source_on_tape(storage, on_tape).unlink()
    restore_status(api_client, on_tape)
    run_worker()

    response = restore_status(api_client, on_tape)

    assert file_states(response) == {on_tape.checksum: "FAILED"}
    assert "Retry-After" not in response  # a poller stops here
    assert list(RestoreRequest.objects.values_list("status", flat=True)) == [Status.FAILED]


def test_the_restore_status_of_an_unknown_invisible_or_malformed_product(api_client, client_for):
    hidden = DataFileFactory(storage="nearline")

    unknown = api_client.get(f"{RESTORE}/URN:FEATURE:DATA:test:{uuid.uuid4()}:V1")
    anonymous = restore_status(api_client, hidden)
    logged_in = restore_status(client_for(UserFactory()), hidden)
    malformed = api_client.get(f"{RESTORE}/not-a-urn")

    assert_api_error(unknown, 404, "not_found")
    assert_api_error(anonymous, 401, "forbidden")
    assert_api_error(logged_in, 403, "forbidden")
    assert_api_error(malformed, 400, "invalid_request")


# Failures.


def test_a_failed_copy_is_reported_and_a_new_request_queues_it_again(api_client, on_tape, storage):
    content = source_on_tape(storage, on_tape).read_bytes()
    source_on_tape(storage, on_tape).unlink()
    ask_restore(api_client, on_tape)

    output = run_worker()

    assert f"FAILED {on_tape.filename} ({on_tape.checksum})" in output
    assert "0 restored, 1 failed." in output
    failed = RestoreRequest.objects.get()
    assert failed.status == Status.FAILED
    assert failed.error and on_tape.storage_key in failed.error
    assert failed.finished is not None and failed.available_until is None
    assert restore_status(api_client, on_tape).json()["files"] == [
        {
            "checksum": on_tape.checksum,
            "available": False,
            "expiration_date": None,
            "status": "FAILED",
            "error": failed.error,
        }
    ]
    assert_api_error(api_client.get(download_url(on_tape)), 409, "restore_required")
    assert not cached_copy(storage, on_tape).exists()

    source_on_tape(storage, on_tape).write_bytes(content)  # the tape is back
    again = ask_restore(api_client, on_tape)

    assert file_states(again) == {on_tape.checksum: "PENDING"}
    assert sorted(RestoreRequest.objects.values_list("status", flat=True)) == [
        Status.FAILED,
        Status.PENDING,
    ]
    run_worker()
    response = api_client.get(download_url(on_tape))
    assert response.status_code == 200
    assert body_of(response) == content


def test_restore_retry_puts_failed_requests_back_in_the_queue(api_client, on_tape, storage):
    content = source_on_tape(storage, on_tape).read_bytes()
    source_on_tape(storage, on_tape).unlink()
    ask_restore(api_client, on_tape)
    run_worker()
    source_on_tape(storage, on_tape).write_bytes(content)

    retried = services.restore_retry(restores=RestoreRequest.objects.all())

    assert retried == 1
    restore = RestoreRequest.objects.get()
    assert (restore.status, restore.error, restore.finished) == (Status.PENDING, "", None)
    assert file_states(restore_status(api_client, on_tape)) == {on_tape.checksum: "PENDING"}
    assert "1 restored, 0 failed." in run_worker()
    restore.refresh_from_db()
    assert (restore.status, restore.attempts) == (Status.DONE, 2)
    assert body_of(api_client.get(download_url(on_tape))) == content


def test_restore_retry_skips_a_file_already_queued_again(api_client, on_tape, storage):
    source_on_tape(storage, on_tape).unlink()
    ask_restore(api_client, on_tape)
    run_worker()
    ask_restore(api_client, on_tape)

    retried = services.restore_retry(restores=RestoreRequest.objects.all())

    assert retried == 0
    assert sorted(RestoreRequest.objects.values_list("status", flat=True)) == [
        Status.FAILED,
        Status.PENDING,
    ]


def test_a_failed_copy_leaves_no_temporary_file_in_the_cache(api_client, on_tape, storage):
    # A folder where the copy should land makes the final rename fail after the bytes
    # were written: the half-made copy must go.
    cached_copy(storage, on_tape).mkdir(parents=True)
    ask_restore(api_client, on_tape)

    assert "0 restored, 1 failed." in run_worker()

    assert RestoreRequest.objects.get().status == Status.FAILED
    assert [p.name for p in (storage.root / "cache").iterdir()] == [on_tape.storage_key]


# The cache.


def test_purge_leaves_unexpired_copies_alone(api_client, on_tape, storage):
    ask_restore(api_client, on_tape)
    run_worker()

    output = run_command("purge_cache")

    assert "0 expired copies purged." in output
    assert cached_copy(storage, on_tape).exists()
    assert not RestoreRequest.objects.get().purged
    assert api_client.get(download_url(on_tape)).status_code == 200


def test_purge_keeps_a_copy_that_a_later_restore_renewed(api_client, on_tape, storage):
    ask_restore(api_client, on_tape)
    run_worker()
    expire_restores()
    assert file_states(ask_restore(api_client, on_tape)) == {on_tape.checksum: "PENDING"}
    run_worker()

    run_command("purge_cache")

    assert cached_copy(storage, on_tape).exists()
    response = api_client.get(download_url(on_tape))
    assert response.status_code == 200
    assert body_of(response) == source_on_tape(storage, on_tape).read_bytes()


def test_a_copy_being_streamed_survives_the_purge(api_client, stored_file, storage):
    content = bytes(range(256)) * (3 * CHUNK_SIZE // 256) + b"tail"
    data_file = stored_file(content, location="nearline")
    ask_restore(api_client, data_file)
    run_worker()
    response = api_client.get(download_url(data_file))
    assert response.status_code == 200
    assert response.streaming

    expire_restores()
    assert "1 expired copies purged." in run_command("purge_cache")
    assert not cached_copy(storage, data_file).exists()

    assert body_of(response) == content
    record = DownloadRecord.objects.get()
    assert (record.outcome, record.bytes_sent) == (DownloadRecord.Outcome.COMPLETED, len(content))


# RESTORE_ON_DOWNLOAD: a GET queues the restore itself, as REGARDS does.


@pytest.fixture
def restore_on_download(settings):
    settings.RESTORE_ON_DOWNLOAD = True


def test_by_default_a_download_queues_nothing(api_client, on_tape):
    assert settings.RESTORE_ON_DOWNLOAD is False

    assert_api_error(api_client.get(download_url(on_tape)), 409, "restore_required")

    assert not RestoreRequest.objects.exists()


def test_a_download_queues_the_restore_and_answers_202(
    client_for, on_tape, storage, restore_on_download
):
    user = UserFactory()
    client = client_for(user)
    url = download_url(on_tape)

    response = client.get(url)

    assert response.status_code == 202
    assert response["Retry-After"] == str(settings.RESTORE_RETRY_AFTER)
    assert response.json() == {
        "id": on_tape.product.urn,
        "files": [
            {
                "checksum": on_tape.checksum,
                "available": False,
                "expiration_date": None,
                "status": "PENDING",
            }
        ],
    }
    restore = RestoreRequest.objects.get()
    assert (restore.data_file, restore.requested_by, restore.status) == (
        on_tape,
        user,
        Status.PENDING,
    )
    assert not DownloadRecord.objects.exists()  # nothing counted

    again = client.get(url)  # idempotent, like POST /restore
    assert again.status_code == 202
    assert file_states(again) == {on_tape.checksum: "PENDING"}
    assert RestoreRequest.objects.count() == 1

    run_worker()
    restored = client.get(url)
    assert restored.status_code == 200
    assert body_of(restored) == source_on_tape(storage, on_tape).read_bytes()


def test_a_running_restore_answers_202_too(api_client, on_tape, restore_on_download):
    ask_restore(api_client, on_tape)
    services.restore_claim(worker="test-worker")

    response = api_client.get(download_url(on_tape))

    assert response.status_code == 202
    assert response["Retry-After"] == str(settings.RESTORE_RETRY_AFTER)
    assert file_states(response) == {on_tape.checksum: "RUNNING"}
    assert RestoreRequest.objects.count() == 1


def test_a_download_queues_a_failed_restore_again(
    api_client, on_tape, storage, restore_on_download
):
    source = source_on_tape(storage, on_tape)
    content = source.read_bytes()
    source.unlink()
    api_client.get(download_url(on_tape))
    run_worker()
    assert RestoreRequest.objects.get().status == Status.FAILED
    source.write_bytes(content)

    response = api_client.get(download_url(on_tape))

    assert response.status_code == 202
    assert file_states(response) == {on_tape.checksum: "PENDING"}
    assert RestoreRequest.objects.filter(status=Status.PENDING).count() == 1


def test_head_queues_nothing_even_with_restore_on_download(
    api_client, on_tape, restore_on_download
):
    assert api_client.head(download_url(on_tape)).status_code == 409
    assert not RestoreRequest.objects.exists()


def test_a_caller_refused_before_check_8_queues_nothing(
    api_client, stored_file, restore_on_download
):
    private = stored_file(
        b"private\n", location="nearline", file_access=AccessRight.FileAccess.NO_ACCESS
    )

    assert_api_error(api_client.get(download_url(private)), 403, "forbidden")
    assert not RestoreRequest.objects.exists()


def test_an_online_file_downloads_as_usual_with_restore_on_download(
    api_client, stored_file, restore_on_download
):
    online = stored_file(b"online bytes\n")

    assert body_of(api_client.get(download_url(online))) == b"online bytes\n"
    assert not RestoreRequest.objects.exists()
