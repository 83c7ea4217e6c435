import hashlib

import pytest

from products.models import AccessRight
from tests.factories import AccessGroupFactory, AccessRightFactory, DataFileFactory


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
def storage(settings, tmp_path):
    settings.STORAGE_CONFIG = ""
    settings.STORAGE_DEFAULT_ROOT = tmp_path / "storage"
    return Storage(tmp_path / "storage")


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
        return data_file

    return make


def download_url(data_file, **params):
    url = f"/api/v1/rs-catalog/downloads/{data_file.product.urn}/files/{data_file.checksum}"
    if params:
        url += "?" + "&".join(f"{name}={value}" for name, value in params.items())
    return url


def body_of(response):
    """The whole body of a response; the test client closes a streaming response (and so
    writes its DownloadRecord) once its content has been read to the end."""
    return b"".join(response.streaming_content) if response.streaming else response.content


def md5(content):
    return hashlib.md5(content).hexdigest()
