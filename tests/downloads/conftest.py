import pytest

from tests.factories import (
    DataFileFactory,
)
from tests.helpers import use_locations
from tests.nginx import NginxServer


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
