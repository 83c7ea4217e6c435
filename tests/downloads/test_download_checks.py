"""The download checks of SPEC §4, row by row, and the order in which they answer."""

import hashlib
import os
import pathlib
from datetime import timedelta

import pytest
from django.utils import timezone
from knox.models import AuthToken

from downloads.models import DownloadRecord
from products.models import AccessRight, DataFile
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    DataFileFactory,
    DatasetFactory,
    ProductFactory,
    UserFactory,
)
from tests.helpers import (
    DOWNLOAD_HEADERS,
    assert_api_error,
    assert_head_answers_as_get,
    assert_nothing_consumed,
    body_of,
    download_url,
    head_then_get,
    md5,
)

FULL = AccessRight.MetadataAccess.FULL_ACCESS
RESTRICTED = AccessRight.MetadataAccess.RESTRICTED_ACCESS
NO_METADATA = AccessRight.MetadataAccess.NO_ACCESS
INHERITED = AccessRight.FileAccess.INHERITED_ACCESS
NO_FILES = AccessRight.FileAccess.NO_ACCESS
Outcome = DownloadRecord.Outcome
SEARCH = "/api/v1/rs-catalog/engines/legacy/dataobjects/search"

pytestmark = pytest.mark.django_db


@pytest.fixture
def unlisted_file(file_in):
    """unlisted_file(content) → a RAWDATA file in a dataset no group has any right on."""

    def make(content=b"private bytes\n"):
        return file_in(ProductFactory(), content)

    return make


def member_of(dataset, metadata_access, file_access):
    """A user whose only non-public group has these rights on `dataset`."""
    user = UserFactory()
    group = AccessGroupFactory(members=[user])
    AccessRightFactory(
        group=group, dataset=dataset, metadata_access=metadata_access, file_access=file_access
    )
    return user


def assert_no_record():
    assert not DownloadRecord.objects.exists()


# 1. A token that is given must be valid: never a silent anonymous call.


def test_a_bad_bearer_token_is_401_even_on_a_public_file(api_client, stored_file):
    data_file = stored_file()
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-token")
    response = api_client.get(download_url(data_file))
    assert_api_error(response, 401, "invalid_token")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert_no_record()


def test_an_expired_bearer_token_is_401(api_client, stored_file, token_for):
    data_file = stored_file()
    user = UserFactory()
    token = token_for(user)
    AuthToken.objects.filter(user=user).update(expiry=timezone.now() - timedelta(minutes=1))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api_client.get(download_url(data_file))
    assert_api_error(response, 401, "invalid_token")
    assert_no_record()


def test_a_bad_query_token_is_401_even_on_a_public_file(api_client, stored_file):
    data_file = stored_file()
    response = api_client.get(download_url(data_file, token="not-a-real-token"))
    assert_api_error(response, 401, "invalid_token")
    response = api_client.head(download_url(data_file, token="not-a-real-token"))
    assert response.status_code == 401
    assert_no_record()


def test_an_expired_query_token_is_401(api_client, stored_file, token_for):
    data_file = stored_file()
    user = UserFactory()
    token = token_for(user)
    AuthToken.objects.filter(user=user).update(expiry=timezone.now() - timedelta(minutes=1))
    response = api_client.get(download_url(data_file, token=token))
    assert_api_error(response, 401, "invalid_token")


def test_a_bad_token_is_checked_before_the_product_is_looked_up(api_client):
    url = "/api/v1/rs-catalog/downloads/URN:FEATURE:DATA:t:00000000-0000-0000-0000-000000000000:V1"
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-token")
    response = api_client.get(url + "/files/abcdef0123456789")
    assert_api_error(response, 401, "invalid_token")


def test_a_query_token_authenticates_get_and_head(api_client, token_for, unlisted_file):
    content = b"only for members\n"
    data_file = unlisted_file(content)
    user = member_of(data_file.product.dataset, FULL, INHERITED)
    url = download_url(data_file, token=token_for(user))

    assert api_client.get(download_url(data_file)).status_code == 401  # anonymous
    response = api_client.get(url)
    assert response.status_code == 200
    assert body_of(response) == content
    record = DownloadRecord.objects.get()
    assert record.user == user

    response = api_client.head(url)
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(content))
    assert DownloadRecord.objects.count() == 1


# 2. Malformed and unknown products.


@pytest.mark.parametrize(
    "aip_id",
    [
        "not-a-urn",
        "URN:AIP:DATASET:test:00000000-0000-0000-0000-000000000000:V1",
        "URN:FEATURE:DATA:test:not-a-uuid:V1",
        "URN:FEATURE:DATA:te.st:00000000-0000-0000-0000-000000000000:V1",
        "URN:FEATURE:DATA:test:00000000-0000-0000-0000-000000000000:V1 ",
        "x" * 5000,
    ],
)
def test_a_malformed_product_id_is_400(api_client, aip_id):
    response = api_client.get(f"/api/v1/rs-catalog/downloads/{aip_id}/files/abcdef0123456789")
    assert_api_error(response, 400, "invalid_request")


@pytest.mark.parametrize("checksum", ["not-hex-at-all", "abcdefg123456789", "abc", "a" * 129])
def test_a_non_hex_checksum_is_400(api_client, stored_file, checksum):
    data_file = stored_file()
    response = api_client.get(
        f"/api/v1/rs-catalog/downloads/{data_file.product.urn}/files/{checksum}"
    )
    assert_api_error(response, 400, "invalid_request")


def test_an_unknown_product_is_404(api_client, stored_file):
    stored_file()
    url = (
        "/api/v1/rs-catalog/downloads/URN:FEATURE:DATA:test:00000000-0000-0000-0000-000000000000:V1"
    )
    response = api_client.get(url + "/files/" + md5(b"hello, archive\n"))
    assert_api_error(response, 404, "not_found")


# 3. Metadata access.


def test_a_user_without_metadata_access_is_forbidden(client_for, unlisted_file):
    data_file = unlisted_file()
    response = client_for(UserFactory()).get(download_url(data_file))
    assert_api_error(response, 403, "forbidden")
    assert_no_record()


def test_an_anonymous_caller_without_metadata_access_must_authenticate(api_client, unlisted_file):
    data_file = unlisted_file()
    response = api_client.get(download_url(data_file))
    assert_api_error(response, 401, "forbidden")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert_no_record()


@pytest.mark.parametrize("metadata_access", [NO_METADATA, RESTRICTED])
def test_a_group_without_full_metadata_access_cannot_download(
    client_for, metadata_access, unlisted_file
):
    data_file = unlisted_file()
    user = member_of(data_file.product.dataset, metadata_access, INHERITED)
    response = client_for(user).get(download_url(data_file))
    assert_api_error(response, 403, "forbidden")
    assert_no_record()


def test_an_unknown_checksum_in_an_invisible_product_is_forbidden_not_404(
    client_for, unlisted_file
):
    # Answering 404 here would tell a stranger which checksums the product holds.
    data_file = unlisted_file()
    url = f"/api/v1/rs-catalog/downloads/{data_file.product.urn}/files/{'0' * 32}"
    assert_api_error(client_for(UserFactory()).get(url), 403, "forbidden")


# 4. Unknown file in a visible product.


def test_an_unknown_checksum_in_a_visible_product_is_404(api_client, stored_file):
    data_file = stored_file()
    url = f"/api/v1/rs-catalog/downloads/{data_file.product.urn}/files/{'0' * 32}"
    assert_api_error(api_client.get(url), 404, "not_found")


def test_a_checksum_of_another_product_is_404(api_client, stored_file):
    mine, other = stored_file(b"mine\n"), stored_file(b"other\n")
    url = f"/api/v1/rs-catalog/downloads/{mine.product.urn}/files/{other.checksum}"
    assert_api_error(api_client.get(url), 404, "not_found")


# 5. File access.


def test_a_private_file_without_file_access_is_forbidden_but_its_quicklook_downloads(
    api_client, stored_file, file_in
):
    raw = stored_file(b"raw data\n", file_access=NO_FILES)
    quicklook = file_in(raw.product, b"quicklook\n", data_type="QUICKLOOK_SD")
    thumbnail = file_in(raw.product, b"thumbnail\n", data_type="THUMBNAIL")

    assert_api_error(api_client.get(download_url(raw)), 403, "forbidden")
    assert not DownloadRecord.objects.exists()
    for public_file, content in [(quicklook, b"quicklook\n"), (thumbnail, b"thumbnail\n")]:
        response = api_client.get(download_url(public_file))
        assert response.status_code == 200
        assert body_of(response) == content
    assert set(DownloadRecord.objects.values_list("checksum", flat=True)) == {
        quicklook.checksum,
        thumbnail.checksum,
    }


@pytest.mark.parametrize("data_type", ["RAWDATA", "DOCUMENT", "OTHER", "AIP"])
def test_every_private_type_needs_file_access(api_client, stored_file, data_type):
    data_file = stored_file(file_access=NO_FILES, data_type=data_type)
    assert_api_error(api_client.get(download_url(data_file)), 403, "forbidden")


def break_storage(data_file, storage, how):
    """Make any read of `data_file`'s bytes fail, in one of several ways."""
    if how == "bytes deleted":
        (storage.root / data_file.storage / data_file.storage_key).unlink()
    elif how == "unknown location":
        DataFile.objects.filter(pk=data_file.pk).update(storage="nowhere")
    elif how == "nearline without copy":
        DataFile.objects.filter(pk=data_file.pk).update(storage="nearline")
    elif how == "reference":
        DataFile.objects.filter(pk=data_file.pk).update(
            reference=True, uri="https://elsewhere.example.org/x.nc"
        )


BREAKAGES = ["bytes deleted", "unknown location", "nearline without copy", "reference"]


@pytest.mark.parametrize("how", BREAKAGES)
def test_a_caller_without_file_access_never_reaches_the_storage(
    api_client, stored_file, storage, how
):
    # REGARDS forgot a `return` here and went on to the storage (SPEC §10).
    data_file = stored_file(file_access=NO_FILES)
    break_storage(data_file, storage, how)
    for method in (api_client.get, api_client.head):
        response = method(download_url(data_file))
        assert response.status_code == 403
    assert_no_record()


@pytest.mark.parametrize("how", BREAKAGES)
def test_a_user_without_file_access_never_reaches_the_storage(
    client_for, storage, how, unlisted_file
):
    data_file = unlisted_file()
    user = member_of(data_file.product.dataset, FULL, NO_FILES)
    break_storage(data_file, storage, how)
    response = client_for(user).get(download_url(data_file))
    assert_api_error(response, 403, "forbidden")
    assert_no_record()


def test_a_member_of_a_group_with_file_access_downloads(client_for, unlisted_file):
    content = b"science data\n"
    data_file = unlisted_file(content)
    user = member_of(data_file.product.dataset, FULL, INHERITED)
    response = client_for(user).get(download_url(data_file))
    assert response.status_code == 200
    assert body_of(response) == content
    record = DownloadRecord.objects.get()
    assert (record.user, record.outcome, record.bytes_sent) == (
        user,
        Outcome.COMPLETED,
        len(content),
    )
    # Other users are not in that group.
    response = client_for(UserFactory()).get(download_url(data_file))
    assert response.status_code == 403


def test_file_access_of_one_group_is_enough_when_another_has_none(client_for, unlisted_file):
    content = b"science data\n"
    data_file = unlisted_file(content)
    user = member_of(data_file.product.dataset, FULL, NO_FILES)
    other_group = AccessGroupFactory(members=[user])
    AccessRightFactory(group=other_group, dataset=data_file.product.dataset)
    response = client_for(user).get(download_url(data_file))
    assert response.status_code == 200
    assert body_of(response) == content


def test_a_right_on_another_dataset_gives_no_access(client_for, unlisted_file):
    data_file = unlisted_file()
    user = member_of(DatasetFactory(), FULL, INHERITED)
    assert client_for(user).get(download_url(data_file)).status_code == 403


@pytest.mark.parametrize(
    "make_user",
    [
        pytest.param(lambda: UserFactory(is_superuser=True), id="superuser"),
        pytest.param(lambda: UserFactory(steward=True), id="steward"),
    ],
)
def test_superusers_and_stewards_download_everything(client_for, make_user, unlisted_file):
    content = b"nobody has rights on this dataset\n"
    data_file = unlisted_file(content)
    user = make_user()
    response = client_for(user).get(download_url(data_file))
    assert response.status_code == 200
    assert body_of(response) == content
    assert DownloadRecord.objects.get().user == user


# 7. References.


def test_a_reference_file_redirects_to_its_external_uri_without_a_record(api_client, stored_file):
    uri = "https://elsewhere.example.org/products/x.nc?version=2"
    data_file = stored_file(reference=True, uri=uri, location="")
    for method in (api_client.get, api_client.head):
        response = method(download_url(data_file))
        assert response.status_code == 303
        assert response["Location"] == uri
    assert_no_record()


# 8. Nearline.


def test_a_nearline_file_without_a_restored_copy_needs_a_restore(api_client, stored_file):
    data_file = stored_file(location="nearline")
    response = api_client.get(download_url(data_file))
    assert_api_error(
        response, 409, "restore_required", restore="http://testserver/api/v1/rs-catalog/restore"
    )
    assert response.status_code != 410  # REGARDS answered Gone (SPEC §10)
    assert api_client.head(download_url(data_file)).status_code == 409
    assert_no_record()


def test_a_nearline_file_with_a_restored_copy_downloads(api_client, stored_file):
    content = b"restored from tape\n"
    data_file = stored_file(content, location="nearline", cached=True)
    response = api_client.get(download_url(data_file))
    assert response.status_code == 200
    assert body_of(response) == content
    assert DownloadRecord.objects.get().outcome == Outcome.COMPLETED


# 10. Storage errors.


def test_an_unknown_storage_location_is_502_storage_unavailable(api_client, stored_file):
    data_file = stored_file()
    DataFile.objects.filter(pk=data_file.pk).update(storage="nowhere")
    response = api_client.get(download_url(data_file))
    assert_api_error(response, 502, "storage_unavailable")
    assert "nowhere" not in response.content.decode()


def test_a_file_missing_in_storage_is_502_and_recorded_as_a_storage_error(
    api_client, stored_file, storage
):
    data_file = stored_file()
    (storage.root / "online" / data_file.storage_key).unlink()
    response = api_client.get(download_url(data_file))
    assert_api_error(response, 502, "storage_file_missing")
    assert str(storage.root) not in response.content.decode()
    record = DownloadRecord.objects.get()
    assert record.outcome == Outcome.STORAGE_ERROR
    assert record.bytes_sent == 0
    assert record.ended is not None


def test_a_stored_file_of_the_wrong_size_is_502_storage_unavailable(
    api_client, stored_file, storage
):
    data_file = stored_file(b"0123456789")
    (storage.root / "online" / data_file.storage_key).write_bytes(b"01234")
    response = api_client.get(download_url(data_file))
    assert_api_error(response, 502, "storage_unavailable")
    record = DownloadRecord.objects.get()
    assert (record.outcome, record.bytes_sent) == (Outcome.STORAGE_ERROR, 0)


def test_head_of_a_file_missing_from_its_location_is_502_as_get(client_for, stored_file, storage):
    data_file = stored_file()
    (storage.root / "online" / data_file.storage_key).unlink()

    head, got = head_then_get(client_for(UserFactory()), data_file)

    assert_head_answers_as_get(head, got, 502, "storage_file_missing")


def test_head_of_a_stored_file_of_the_wrong_size_is_502_as_get(client_for, stored_file, storage):
    data_file = stored_file(b"0123456789")
    (storage.root / "online" / data_file.storage_key).write_bytes(b"01234")

    head, got = head_then_get(client_for(UserFactory()), data_file)

    assert_head_answers_as_get(head, got, 502, "storage_unavailable")


def test_head_of_a_present_file_is_200_with_the_headers_of_get(client_for, stored_file):
    data_file = stored_file(b"present bytes\n", filename="present.txt")
    client = client_for(UserFactory())

    head = client.head(download_url(data_file))
    assert_nothing_consumed()
    got = client.get(download_url(data_file))
    body_of(got)

    assert head.status_code == got.status_code == 200
    for name in DOWNLOAD_HEADERS:
        assert head[name] == got[name], name
    assert head["Content-Length"] == str(data_file.filesize)


# §8: hostile ids and keys.


@pytest.mark.parametrize(
    "path",
    [
        "..%2F..%2F..%2Fetc%2Fpasswd/files/abcdef0123456789",
        "{urn}/files/..%2F..%2F..%2Fetc%2Fpasswd",
        "{urn}/files/%2e%2e",
        "{urn}/files/..%252F..%252Fetc%252Fpasswd",
        "..%252F..%252Fetc%252Fpasswd/files/abcdef0123456789",
        "{urn}%00/files/{checksum}",
        "{urn}/files/{checksum}%00",
        "{urn}/files/%00",
        "%00/files/%00",
        "{urn}/files/..%5C..%5Cetc%5Cpasswd",
        "{urn}%2F..%2F..%2Fx/files/{checksum}",
        "{urn}/files/{checksum}%2F..%2F..",
        "{urn}/files/%C0%AE%C0%AE",
        "{urn}/files/%FF%FE",
    ],
)
def test_path_traversal_attempts_in_ids_are_refused_with_a_4xx(api_client, stored_file, path):
    data_file = stored_file()
    path = path.format(urn=data_file.product.urn, checksum=data_file.checksum)
    response = api_client.get("/api/v1/rs-catalog/downloads/" + path)
    assert 400 <= response.status_code < 500, response.content[:300]
    # A bad id is refused before any access rule: malformed (400) or unknown (404).
    code = {400: "invalid_request", 404: "not_found"}[response.status_code]
    assert_api_error(response, response.status_code, code)
    assert_no_record()


@pytest.fixture
def secret_outside_root(storage):
    """A file beside (not inside) the storage root, whose bytes must never be served."""
    content = b"secret: outside every storage location\n"
    path = storage.root.parent / "secret.txt"
    path.write_bytes(content)
    return path


@pytest.fixture
def file_with_key(storage, public_group):
    """file_with_key(key, content) → a public file whose catalog entry names storage `key`;
    no bytes are written for it, and the `online` location's folder exists."""
    (storage.root / "online").mkdir(parents=True, exist_ok=True)

    def make(key, content):
        data_file = DataFileFactory(content=content, key=key)
        AccessRightFactory(group=public_group, dataset=data_file.product.dataset)
        return data_file

    return make


@pytest.mark.parametrize("key", ["../../secret.txt", "online/../../../secret.txt", "{absolute}"])
def test_a_catalog_key_leading_out_of_the_root_reads_nothing(
    api_client, file_with_key, secret_outside_root, key
):
    content = secret_outside_root.read_bytes()
    key = key.format(absolute=secret_outside_root)
    data_file = file_with_key(key, content)  # checksum and size match: a read would succeed
    response = api_client.get(download_url(data_file))
    assert_api_error(response, 502, "storage_file_missing")
    assert b"secret" not in response.content
    record = DownloadRecord.objects.get()
    assert (record.outcome, record.bytes_sent) == (Outcome.STORAGE_ERROR, 0)


@pytest.mark.parametrize("key", ["../../secret.txt", "{absolute}"])
def test_head_of_a_catalog_key_leading_out_of_the_root_is_502_as_get(
    api_client, file_with_key, secret_outside_root, key
):
    key = key.format(absolute=secret_outside_root)
    data_file = file_with_key(key, secret_outside_root.read_bytes())

    head, got = head_then_get(api_client, data_file)

    assert_head_answers_as_get(head, got, 502, "storage_file_missing")


def test_a_symlink_out_of_the_root_reads_nothing(
    api_client, storage, file_with_key, secret_outside_root
):
    content = secret_outside_root.read_bytes()
    (storage.root / "online" / "link").symlink_to(secret_outside_root)
    data_file = file_with_key("link", content)
    response = api_client.get(download_url(data_file))
    assert_api_error(response, 502, "storage_file_missing")
    assert b"secret" not in response.content


def test_head_of_a_symlink_out_of_the_root_is_502_as_get(
    api_client, storage, file_with_key, secret_outside_root
):
    (storage.root / "online" / "link").symlink_to(secret_outside_root)
    data_file = file_with_key("link", secret_outside_root.read_bytes())

    head, got = head_then_get(api_client, data_file)

    assert_head_answers_as_get(head, got, 502, "storage_file_missing")


@pytest.mark.skipif(not os.access("/etc/passwd", os.R_OK), reason="no /etc/passwd to aim at")
def test_a_catalog_key_naming_etc_passwd_is_502_storage_file_missing(
    api_client, storage, file_with_key
):
    passwd = pathlib.Path("/etc/passwd").read_bytes()
    depth = len((storage.root / "online").parts)
    data_file = file_with_key("../" * depth + "etc/passwd", passwd)
    assert data_file.checksum == hashlib.md5(passwd).hexdigest()
    response = api_client.get(download_url(data_file))
    assert_api_error(response, 502, "storage_file_missing")
    assert b"root:" not in response.content
    assert DownloadRecord.objects.get().bytes_sent == 0


def test_the_literal_key_dot_dot_etc_passwd_is_502_storage_file_missing(api_client, file_with_key):
    data_file = file_with_key("../../etc/passwd", b"root:x:0:0\n")
    response = api_client.get(download_url(data_file))
    assert_api_error(response, 502, "storage_file_missing")
    assert b"root:" not in response.content


# Error shape: JSON by default, HTML for a browser.


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/octet-stream"])
def test_errors_are_json_for_programs(api_client, stored_file, accept):
    data_file = stored_file(file_access=NO_FILES)
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    assert_api_error(api_client.get(download_url(data_file), **headers), 403, "forbidden")


@pytest.mark.parametrize(
    ("status", "code", "make_url"),
    [
        (403, "forbidden", lambda f: download_url(f)),
        (404, "not_found", lambda f: download_url(f).replace(f.checksum, "0" * 32)),
        (400, "invalid_request", lambda f: download_url(f).replace(f.checksum, "xyz")),
        (401, "invalid_token", lambda f: download_url(f, token="bad")),
    ],
)
def test_a_browser_gets_an_html_error_page(api_client, stored_file, status, code, make_url):
    data_file = stored_file(file_access=NO_FILES)
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = api_client.get(make_url(data_file), HTTP_ACCEPT=accept)
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "<html" in page.lower()
    assert code in page


def test_a_browser_gets_an_html_page_for_an_unroutable_path(api_client):
    response = api_client.get(
        "/api/v1/rs-catalog/downloads/..%2F..%2Fetc%2Fpasswd/files/abcdef0123",
        HTTP_ACCEPT="text/html",
    )
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_the_html_choice_does_not_depend_on_the_user_agent(api_client, stored_file):
    data_file = stored_file(file_access=NO_FILES)
    response = api_client.get(
        download_url(data_file), HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
    )
    assert_api_error(response, 403, "forbidden")


def test_the_restore_link_is_on_the_html_page_too(api_client, stored_file):
    data_file = stored_file(location="nearline")
    response = api_client.get(download_url(data_file), HTTP_ACCEPT="text/html")
    assert response.status_code == 409
    assert "/api/v1/rs-catalog/restore" in response.content.decode()


def test_a_product_in_a_visible_dataset_is_not_confused_with_another(client_for, unlisted_file):
    # Two datasets, one right: the product of the other dataset stays forbidden.
    data_file = unlisted_file()
    visible = ProductFactory()
    user = member_of(visible.dataset, FULL, INHERITED)
    assert client_for(user).get(download_url(data_file)).status_code == 403


@pytest.mark.django_db
def test_a_checksum_in_upper_case_finds_its_file_as_regards_writes_them(stored_file, api_client):
    data_file = stored_file(b"upper or lower")
    url = download_url(data_file).replace(data_file.checksum, data_file.checksum.upper())

    response = api_client.get(url)

    assert response.status_code == 200
    assert response["ETag"] == f'"{data_file.checksum}"'
    assert body_of(response) == b"upper or lower"


# Framing: the REGARDS frontend previews an inline file in an iframe of its own page


@pytest.mark.parametrize("method", ["get", "head"])
def test_an_inline_download_may_be_framed_by_our_own_pages_only(api_client, stored_file, method):
    data_file = stored_file(b"\x89PNG...", data_type="QUICKLOOK_SD", mime_type="image/png")

    response = getattr(api_client, method)(download_url(data_file, isContentInline="true"))

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response["Content-Security-Policy"] == "sandbox; frame-ancestors 'self'"
    body_of(response)


@pytest.mark.parametrize("method", ["get", "head"])
def test_an_attachment_download_is_never_framed(api_client, stored_file, method):
    data_file = stored_file()

    response = getattr(api_client, method)(download_url(data_file, isContentInline="false"))

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors" not in response["Content-Security-Policy"]
    body_of(response)


def test_a_refused_inline_download_is_never_framed(api_client, stored_file):
    data_file = stored_file(b"private", file_access=AccessRight.FileAccess.NO_ACCESS)

    response = api_client.get(download_url(data_file, isContentInline="true"))

    assert_api_error(response, 403, "forbidden")
    assert response["X-Frame-Options"] == "DENY"


def test_other_answers_keep_deny(api_client, stored_file):
    stored_file()

    for path in (SEARCH, "/api/v1/rs-catalog/licenses"):
        assert api_client.get(path)["X-Frame-Options"] == "DENY"
