from datetime import timedelta

import pytest
from django.utils import timezone

from downloads.models import RestoreRequest
from products.models import AccessRight
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    DataFileFactory,
    RestoreRequestFactory,
)
from tests.helpers import use_locations
from tests.nginx import NginxServer


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
        if cached:  # as the restore worker leaves it
            RestoreRequestFactory(
                data_file=data_file,
                status=RestoreRequest.Status.DONE,
                finished=timezone.now(),
                available_until=timezone.now() + timedelta(hours=1),
            )
        return data_file

    return make


@pytest.fixture
def remote_nginx(storage, nginx_binary, settings, tmp_path):
    """A real nginx behind the `remote` http location, serving the folder that
    `stored_file(location="remote")` writes to; `/broken/…` answers 500."""
    root = storage.root / "remote"
    root.mkdir(parents=True)
    extra_config = "        location /broken/ { return 500; }\n"
    with NginxServer(nginx_binary, root, extra_config, workdir=tmp_path / "nginx") as server:
        use_locations(settings, storage, tmp_path, server.url + "/{key}")
        yield server


@pytest.fixture
def file_in(storage):
    """file_in(product, content, location="online", **DataFile fields) → one more file of a
    product made by `stored_file` (so under the same access rights), its bytes in storage."""

    def make(product, content, *, location="online", **fields):
        data_file = DataFileFactory(product=product, content=content, storage=location, **fields)
        if not data_file.reference:
            storage.put(content, data_file.storage_key, location=location)
        return data_file

    return make
