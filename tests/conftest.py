from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from downloads.models import RestoreRequest
from downloads.quotas import slot_keeper
from products.models import AccessRight
from regards_catalog.auth import issue_token
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    DataFileFactory,
    RestoreRequestFactory,
    UserFactory,
)

pytest_plugins = ["tests.processes", "tests.nginx", "tests.gunicorn", "tests.s3"]


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def token_for(db):
    """token_for(user) → a fresh API token string for that user."""

    def make(user):
        return issue_token(user)[0]

    return make


@pytest.fixture
def client_for(token_for):
    """client_for(user) → an APIClient sending that user's Bearer token."""

    def make(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
        return client

    return make


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2 costs ~0.5 s per user; tests need hashing to work, not to be slow."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def no_slot_kept_alive():
    """The process-wide slot keeper must not go on renewing a finished test's slots (its
    thread would reach for a database that pytest has dropped)."""
    yield
    with slot_keeper.lock:
        slot_keeper.held.clear()


@pytest.fixture
def steward(client):
    """A data steward (staff, in the stewards group, not a superuser), logged in `client`."""
    user = UserFactory(steward=True)
    assert not user.is_superuser
    client.force_login(user)
    return user


# Storage and stored files: the download and end-to-end tests use them.


class Storage:
    """The default local locations, in a temporary folder."""

    def __init__(self, root):
        self.root = root

    def put(self, content, key, *, location="online", cached=False):
        folder = self.root / location
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        if cached:
            copy = self.root / "cache" / key
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(content)
        return path


@pytest.fixture
def storage_root(tmp_path):
    return tmp_path / "storage"


@pytest.fixture
def storage(settings, storage_root):
    settings.STORAGE_CONFIG = ""
    settings.STORAGE_DEFAULT_ROOT = storage_root
    return Storage(storage_root)


@pytest.fixture
def public_group(db):
    return AccessGroupFactory(name="public", public=True)


@pytest.fixture
def stored_file(storage, public_group):
    """stored_file(content=b"...", **DataFile fields) → a DataFile whose bytes are in storage,
    in a dataset the public group may fully see and download (unless `file_access` says not)."""

    def make(
        content=b"hello, archive\n",
        *,
        location="online",
        cached=False,
        file_access=AccessRight.FileAccess.INHERITED_ACCESS,
        **fields,
    ):
        data_file = DataFileFactory(content=content, storage=location, **fields)
        AccessRightFactory(
            group=public_group, dataset=data_file.product.dataset, file_access=file_access
        )
        if not data_file.reference:
            storage.put(content, data_file.storage_key, location=location, cached=cached)
        if cached:  # as the restore worker leaves it
            RestoreRequestFactory(
                data_file=data_file,
                status=RestoreRequest.Status.DONE,
                finished=timezone.now(),
                available_until=timezone.now() + timedelta(hours=1),
            )
        return data_file

    return make
