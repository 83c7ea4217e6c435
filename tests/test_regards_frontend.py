"""The REGARDS web frontend's calls, replayed as it sends them (method, query string, headers
and body), one session from login to a restored download: each answer is one the frontend
accepts (README, "REGARDS compatibility")."""

import base64
import hashlib
from urllib.parse import urlencode, urlsplit

import pytest
from django.test import Client

from downloads.models import DownloadRecord, LicenseAcceptance
from products.models import AccessRight, DataFile
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    DataFileFactory,
    LicenseFactory,
    ProductFactory,
    UserFactory,
)
from tests.helpers import body_of, run_command

# process_restores closes stale connections between jobs, as a long-running worker must:
# it runs for real only outside a test transaction.
pytestmark = pytest.mark.django_db(transaction=True)

EMAIL, PASSWORD = "scientist@example.org", "a long enough password"
# The frontend's OAuth client, which it sends as Basic with every login.
OAUTH_CLIENT = "Basic " + base64.b64encode(b"client:secret").decode()
JSON = {"HTTP_ACCEPT": "application/json", "content_type": "application/json"}
RAW = b"raw data of the frontend's session\n" * 40
ON_TAPE = b"bytes kept on tape\n" * 30


@pytest.fixture
def archive(storage):
    """A project licence, and a dataset whose products the scientist may download: one file
    online, one on tape."""
    scientist = UserFactory(email=EMAIL, password=PASSWORD)
    LicenseFactory(slug="project", title="Project terms", project=True)
    group = AccessGroupFactory(members=[scientist])
    product = ProductFactory(label="Toulouse scene", properties={"platform": "SENTINEL-2A"})
    AccessRightFactory(
        group=group,
        dataset=product.dataset,
        file_access=AccessRight.FileAccess.INHERITED_ACCESS,
    )
    online = DataFileFactory(product=product, content=RAW, storage="online")
    storage.put(RAW, online.storage_key)
    taped = DataFileFactory(
        product=ProductFactory(dataset=product.dataset, label="Archived scene"),
        content=ON_TAPE,
        storage="nearline",
    )
    storage.put(ON_TAPE, taped.storage_key, location="nearline")
    return {"scientist": scientist, "online": online, "taped": taped}


def login(client):
    """regards-frontend's AuthenticateActions: the credentials and the project in the query
    string, an empty JSON body, the OAuth client as Basic."""
    query = urlencode(
        {"grant_type": "password", "username": EMAIL, "password": PASSWORD, "scope": "regards"}
    )
    response = client.post(
        f"/api/v1/rs-authentication/oauth/token?{query}",
        "{}",
        HTTP_AUTHORIZATION=OAUTH_CLIENT,
        **JSON,
    )
    assert response.status_code == 200, response.content
    return response.json()


def api(client, method, path, token, body=None):
    """A call of the frontend once logged in: Bearer token, JSON in and out."""
    send = getattr(client, method.lower())
    data = body if body is not None else ({} if method in ("POST", "PUT") else None)
    args = (path,) if data is None else (path, data)
    return send(*args, HTTP_AUTHORIZATION=f"Bearer {token}", **JSON)


def download(client, uri, token):
    """The frontend's download links carry the token in the query string."""
    return client.get(f"{urlsplit(uri).path}?{urlencode({'token': token})}")


def body_md5(response):
    return hashlib.md5(body_of(response)).hexdigest()


def test_a_frontend_session_from_login_to_a_restored_download(archive):
    client = Client()
    online, taped = archive["online"], archive["taped"]

    # Login: REGARDS's fields, `sub` first of all (the frontend's "logged in" test).
    session = login(client)
    token = session["access_token"]
    assert session["token_type"] == "bearer"
    assert (session["sub"], session["email"]) == (EMAIL, EMAIL)
    assert (session["tenant"], session["scope"], session["role"]) == (
        "regards",
        "regards",
        "REGISTERED_USER",
    )

    # Search, with the facets of the search page.
    query = urlencode(
        [("q", "properties.platform:SENTINEL-2A"), ("page", 0), ("size", 20)]
        + [("sort", "label,ASC"), ("facets", "properties.platform")]
    )
    found = api(
        client, "GET", f"/api/v1/rs-catalog/engines/legacy/dataobjects/search?{query}", token
    )
    assert found.status_code == 200, found.content
    page = found.json()
    assert page["metadata"]["totalElements"] == 1
    (entry,) = page["content"]
    assert entry["content"]["id"] == online.product.urn
    assert entry["content"]["type"] == "Feature"
    assert online.product.dataset.urn in entry["content"]["tags"]
    (facet,) = page["facets"]
    assert facet["attributeName"] == "properties.platform"
    assert facet["values"][0]["word"] == "SENTINEL-2A"
    assert {link["rel"] for link in page["links"]} == {"self"}

    # One entity, as EntityModel: the files under content.
    entity = api(
        client, "GET", f"/api/v1/rs-catalog/engines/legacy/entities/{online.product.urn}", token
    )
    assert entity.status_code == 200
    (raw,) = entity.json()["content"]["files"]["RAWDATA"]
    assert raw["checksum"] == online.checksum

    # The quota page.
    quota = api(client, "GET", "/api/v1/rs-access-project/quota/current", token)
    assert quota.status_code == 200
    assert quota.json()["email"] == EMAIL
    assert quota.json()["currentQuota"] == 0

    # The project licence: not accepted yet, so the download is refused with its link.
    licence = api(client, "GET", "/api/v1/rs-admin-public/license", token)
    assert licence.status_code == 200
    assert licence.json()["content"]["accepted"] is False
    refused = download(client, raw["uri"], token)
    assert refused.status_code == 423
    assert refused.json()["code"] == "license_not_accepted"
    assert refused.json()["messages"] == [refused.json()["message"]]

    accepted = api(client, "PUT", "/api/v1/rs-admin-public/license", token)
    assert accepted.status_code == 200
    assert accepted.json()["content"]["accepted"] is True
    assert LicenseAcceptance.objects.filter(user=archive["scientist"]).count() == 1

    # The download, counted.
    got = download(client, raw["uri"], token)
    assert got.status_code == 200
    assert body_md5(got) == online.checksum
    quota = api(client, "GET", "/api/v1/rs-access-project/quota/current", token)
    assert quota.json()["currentQuota"] == 1

    # The file on tape: the frontend asks for its restore, polls, then downloads it.
    tape_uri = (
        f"http://testserver/api/v1/rs-catalog/downloads/{taped.product.urn}/files/{taped.checksum}"
    )
    assert download(client, tape_uri, token).status_code == 409
    asked = api(
        client, "POST", "/api/v1/rs-catalog/restore", token, {"product_ids": [taped.product.urn]}
    )
    assert asked.status_code == 200
    assert asked.json()["products"][0]["files"][0]["status"] == "PENDING"
    polled = api(client, "GET", f"/api/v1/rs-catalog/restore/{taped.product.urn}", token)
    assert polled.status_code == 200
    assert polled["Retry-After"]
    run_command("process_restores", "--once")
    polled = api(client, "GET", f"/api/v1/rs-catalog/restore/{taped.product.urn}", token)
    assert polled.json()["files"][0]["status"] == "AVAILABLE"
    assert "Retry-After" not in polled

    restored = download(client, tape_uri, token)
    assert restored.status_code == 200
    assert body_md5(restored) == taped.checksum
    assert DownloadRecord.objects.filter(outcome="COMPLETED").count() == 2
    assert DataFile.objects.count() == 2
