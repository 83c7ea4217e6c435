"""Availability of product files (SPEC §3 Availability, §4 "Availability and restore")."""

import uuid
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from downloads.models import DownloadRecord, Quota, RestoreRequest
from products.models import AccessRight, DataFile
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    DataFileFactory,
    DatasetFactory,
    ProductFactory,
    QuotaFactory,
    UserFactory,
)
from tests.helpers import assert_api_error, run_command, running_downloads

pytestmark = pytest.mark.django_db

AVAILABILITY = "/api/v1/rs-catalog/availability/files"
RESTORE = "/api/v1/rs-catalog/restore"
NO_FILES = AccessRight.FileAccess.NO_ACCESS


def availability(client, product_ids):
    return client.post(AVAILABILITY, {"product_ids": product_ids}, format="json")


def product_availability(client, product_id):
    return client.get(f"{AVAILABILITY}/{product_id}")


def files_of(client, data_file):
    """The `files` list that POST /availability/files gives for the file's product."""
    return availability(client, [data_file.product.urn]).json()["products"][0]["files"]


def ask_restore(client, data_file):
    return client.post(RESTORE, {"product_ids": [data_file.product.urn]}, format="json")


def a_product_urn():
    return f"URN:FEATURE:DATA:test:{uuid.uuid4()}:V1"


def file_json(data_file, *, available, expiration_date=None):
    return {
        "checksum": data_file.checksum,
        "available": available,
        "expiration_date": expiration_date,
    }


def parse_date(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def invisible_file():
    """A file of a dataset on which the public group has no right."""
    return DataFileFactory(product=ProductFactory(dataset=DatasetFactory()))


def member_with_rights(dataset, *, metadata, files=NO_FILES):
    user = UserFactory()
    group = AccessGroupFactory(members=[user])
    AccessRightFactory(group=group, dataset=dataset, metadata_access=metadata, file_access=files)
    return user


# Shape and states.


def test_online_files_are_available_without_expiration(api_client, stored_file):
    data_file = stored_file(b"online bytes\n")

    response = availability(api_client, [data_file.product.urn])

    assert response.status_code == 200
    assert response.json() == {
        "products": [{"id": data_file.product.urn, "files": [file_json(data_file, available=True)]}]
    }


def test_a_nearline_file_not_restored_is_not_available(api_client, stored_file):
    data_file = stored_file(b"on tape\n", location="nearline")

    response = availability(api_client, [data_file.product.urn])

    assert response.status_code == 200
    assert response.json() == {
        "products": [
            {"id": data_file.product.urn, "files": [file_json(data_file, available=False)]}
        ]
    }


def test_all_files_of_a_product_are_listed_in_order(api_client, stored_file, file_in):
    nearline = stored_file(b"on tape\n", location="nearline")
    online = file_in(nearline.product, b"online\n")
    reference = file_in(
        nearline.product, b"elsewhere\n", reference=True, uri="https://elsewhere.example/x.nc"
    )

    response = product_availability(api_client, nearline.product.urn)

    assert response.status_code == 200
    assert response.json() == {
        "id": nearline.product.urn,
        "files": [
            file_json(nearline, available=False),
            file_json(online, available=True),
            file_json(reference, available=True),
        ],
    }


def test_a_pending_restore_is_not_available_yet(api_client, stored_file):
    data_file = stored_file(b"on tape\n", location="nearline")
    assert ask_restore(api_client, data_file).status_code == 200

    assert files_of(api_client, data_file) == [file_json(data_file, available=False)]


@pytest.mark.django_db(transaction=True)
def test_a_restored_file_is_available_until_its_expiration_date(api_client, stored_file):
    data_file = stored_file(b"on tape\n", location="nearline")
    ask_restore(api_client, data_file)
    before = timezone.now()
    run_command("process_restores", "--once")

    response = availability(api_client, [data_file.product.urn])

    assert response.status_code == 200
    [file] = response.json()["products"][0]["files"]
    assert file["checksum"] == data_file.checksum
    assert file["available"] is True
    expiration = parse_date(file["expiration_date"])
    assert expiration == RestoreRequest.objects.get().available_until
    assert before + timedelta(hours=24) <= expiration <= timezone.now() + timedelta(hours=24)
    assert product_availability(api_client, data_file.product.urn).json()["files"] == [file]


def test_an_expired_restore_is_not_available_though_the_copy_is_still_cached(
    api_client, stored_file, storage
):
    data_file = stored_file(b"on tape\n", location="nearline", cached=True)
    assert files_of(api_client, data_file)[0]["available"]
    RestoreRequest.objects.update(available_until=timezone.now() - timedelta(seconds=1))

    files = files_of(api_client, data_file)

    assert (storage.root / "cache" / data_file.storage_key).exists()
    assert files == [file_json(data_file, available=False)]


def test_a_restored_copy_gone_from_the_cache_is_not_available(api_client, stored_file, storage):
    data_file = stored_file(b"on tape\n", location="nearline", cached=True)
    (storage.root / "cache" / data_file.storage_key).unlink()

    files = files_of(api_client, data_file)

    assert files == [file_json(data_file, available=False)]


def test_a_file_on_an_unknown_location_is_not_available(api_client, stored_file):
    data_file = stored_file(b"misplaced\n")
    DataFile.objects.filter(pk=data_file.pk).update(storage="nowhere")

    response = product_availability(api_client, data_file.product.urn)

    assert response.status_code == 200
    assert response.json()["files"] == [file_json(data_file, available=False)]


def test_products_come_back_in_the_order_asked_once_each(api_client, stored_file):
    first, second = stored_file(b"first\n"), stored_file(b"second\n")
    asked = [second.product.urn, first.product.urn, second.product.urn]

    response = availability(api_client, asked)

    assert response.status_code == 200
    assert [p["id"] for p in response.json()["products"]] == [
        second.product.urn,
        first.product.urn,
    ]


# Who sees what.


def test_products_the_caller_cannot_see_are_left_out(api_client, client_for, stored_file):
    visible = stored_file(b"visible\n")
    hidden = invisible_file()
    restricted = DataFileFactory()
    user = member_with_rights(
        restricted.product.dataset, metadata=AccessRight.MetadataAccess.RESTRICTED_ACCESS
    )
    asked = [visible.product.urn, hidden.product.urn, restricted.product.urn, a_product_urn()]

    for client in (api_client, client_for(user)):
        response = availability(client, asked)
        assert response.status_code == 200
        assert [p["id"] for p in response.json()["products"]] == [visible.product.urn]


def test_private_files_without_file_access_are_left_out(api_client, stored_file, file_in):
    private = stored_file(b"private\n", file_access=NO_FILES)
    quicklook = file_in(private.product, b"quicklook\n", data_type=DataFile.DataType.QUICKLOOK_SD)

    response = availability(api_client, [private.product.urn])

    assert response.json() == {
        "products": [{"id": private.product.urn, "files": [file_json(quicklook, available=True)]}]
    }
    assert product_availability(api_client, private.product.urn).json()["files"] == [
        file_json(quicklook, available=True)
    ]


def test_a_member_with_file_access_sees_the_private_files(client_for):
    data_file = invisible_file()
    user = member_with_rights(
        data_file.product.dataset,
        metadata=AccessRight.MetadataAccess.FULL_ACCESS,
        files=AccessRight.FileAccess.INHERITED_ACCESS,
    )

    response = availability(client_for(user), [data_file.product.urn])

    assert response.json()["products"] == [
        {"id": data_file.product.urn, "files": [file_json(data_file, available=True)]}
    ]


def test_a_steward_sees_every_product_and_file(client_for):
    data_file = invisible_file()

    response = availability(client_for(UserFactory(steward=True)), [data_file.product.urn])

    assert response.json()["products"] == [
        {"id": data_file.product.urn, "files": [file_json(data_file, available=True)]}
    ]


# Input limits and errors (never a 500).


def test_one_hundred_product_ids_are_accepted(api_client, stored_file):
    data_file = stored_file()
    asked = [a_product_urn() for _ in range(99)] + [data_file.product.urn]

    response = availability(api_client, asked)

    assert response.status_code == 200
    assert [p["id"] for p in response.json()["products"]] == [data_file.product.urn]


def test_more_than_one_hundred_product_ids_are_refused(api_client, stored_file):
    data_file = stored_file()
    asked = [a_product_urn() for _ in range(100)] + [data_file.product.urn]

    response = availability(api_client, asked)

    assert_api_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    "product_id",
    [
        "not-a-urn",
        "URN:AIP:DATASET:test:6f1d3b0e-1111-4a2b-9c3d-123456789abc:V1",
        "URN:FEATURE:DATA:test:not-a-uuid:V1",
        "junk URN:FEATURE:DATA:test:6f1d3b0e-1111-4a2b-9c3d-123456789abc:V1 junk",
        "URN:FEATURE:DATA:test:6f1d3b0e-1111-4a2b-9c3d-123456789abc:V1\x00",
        "",
        "URN:FEATURE:DATA:test:" + "x" * 5000,
        123,
        None,
        True,
        ["URN:FEATURE:DATA:test:6f1d3b0e-1111-4a2b-9c3d-123456789abc:V1"],
        {"id": "x"},
    ],
)
def test_a_malformed_product_id_is_400(api_client, stored_file, product_id):
    data_file = stored_file()

    response = availability(api_client, [data_file.product.urn, product_id])

    assert_api_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    "body",
    [
        b'{"product_ids": "URN:FEATURE:DATA:test:6f1d3b0e-1111-4a2b-9c3d-123456789abc:V1"}',
        b'{"product_ids": {"a": 1}}',
        b'{"product_ids": 7}',
        b'{"product_ids": null}',
        b'{"ids": []}',
        b"{}",
        b"[]",
        b'"product_ids"',
        b"null",
        b"42",
        b"",
        b"not json",
        b'{"product_ids": [',
        b"\xff\xfe\x00",
        b'{"product_ids": [NaN]}',
    ],
)
def test_a_body_that_is_not_a_list_of_ids_is_400(api_client, body):
    response = api_client.post(AVAILABILITY, body, content_type="application/json")

    assert_api_error(response, 400, "invalid_request")


# One product.


def test_an_unknown_product_is_404(api_client):
    response = product_availability(api_client, a_product_urn())

    assert_api_error(response, 404, "not_found")


def test_a_product_the_caller_cannot_see_is_403_or_401_when_anonymous(api_client, client_for):
    data_file = invisible_file()

    anonymous = product_availability(api_client, data_file.product.urn)
    logged_in = product_availability(client_for(UserFactory()), data_file.product.urn)

    assert_api_error(anonymous, 401, "forbidden")
    assert_api_error(logged_in, 403, "forbidden")


@pytest.mark.parametrize(
    "product_id",
    ["not-a-urn", "URN:FEATURE:DATA:test:not-a-uuid:V1", "URN:FEATURE:DATA:" + "x" * 3000],
)
def test_a_malformed_product_id_in_the_path_is_400(api_client, product_id):
    response = product_availability(api_client, product_id)

    assert_api_error(response, 400, "invalid_request")


# Quotas.


def test_status_checks_never_touch_the_quota(client_for, stored_file):
    user = UserFactory()
    client = client_for(user)
    QuotaFactory(user=user, max_quota=0, rate_limit=0, max_volume=0)
    online = stored_file(b"online\n")
    nearline = stored_file(b"on tape\n", location="nearline")
    urns = [online.product.urn, nearline.product.urn]

    assert availability(client, urns).status_code == 200
    assert product_availability(client, online.product.urn).status_code == 200
    assert client.post(RESTORE, {"product_ids": urns}, format="json").status_code == 200
    assert client.get(f"{RESTORE}/{nearline.product.urn}").status_code == 200

    quota = Quota.objects.get()
    assert (quota.user, quota.current_quota, quota.current_volume) == (user, 0, 0)
    assert not running_downloads().exists()
    assert not DownloadRecord.objects.exists()
