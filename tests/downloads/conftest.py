import hashlib
import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from downloads.models import RestoreRequest
from products.models import AccessRight
from tests.factories import AccessGroupFactory, AccessRightFactory, DataFileFactory
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
            RestoreRequest.objects.create(
                data_file=data_file,
                status=RestoreRequest.Status.DONE,
                finished=timezone.now(),
                available_until=timezone.now() + timedelta(hours=1),
            )
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


def api_error(response, status):
    """The `{"code", "message", …}` body of an error answer, after checking status and shape."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body.get("code"), str) and body["code"]
    assert isinstance(body.get("message"), str) and body["message"]
    return body


def use_locations(settings, storage, tmp_path, remote_url, *, timeout=30):
    """Point STORAGE_CONFIG at a file naming `online` (local, in `storage`) and `remote`
    (http, at `remote_url`, a URL template holding `{key}`)."""
    config = {
        "locations": {
            "online": {"backend": "local", "root": str(storage.root / "online"), "tier": "online"},
            "remote": {
                "backend": "http",
                "url": remote_url,
                "tier": "online",
                "timeout": timeout,
                "connect_timeout": 10,
                "retries": 1,
            },
        }
    }
    path = tmp_path / "storage.json"
    path.write_text(json.dumps(config))
    settings.STORAGE_CONFIG = str(path)


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


def run_command(name, *args):
    """Run a management command for real and return what it printed."""
    out = io.StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()
