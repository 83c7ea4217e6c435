"""The OpenAPI schema and its docs page (SPEC §4), and the admin's login gate (SPEC §8)."""

import json

import pytest
import yaml

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SCHEMA = "/api/v1/schema"
DOCUMENTED_PATHS = {
    "/api/v1/rs-authentication/oauth/token",
    "/api/v1/rs-catalog/downloads/{aip_id}/files/{checksum}",
    "/api/v1/rs-catalog/engines/legacy/dataobjects/search",
    "/api/v1/rs-catalog/engines/legacy/dataobjects/{urn}",
    "/api/v1/rs-catalog/engines/legacy/datasets/search",
    "/api/v1/rs-catalog/engines/legacy/datasets/{urn}",
    "/api/v1/rs-catalog/engines/legacy/datasets/{urn}/dataobjects/search",
    "/api/v1/rs-catalog/engines/legacy/entities/{urn}",
    "/api/v1/rs-catalog/licenses",
    "/api/v1/rs-catalog/licenses/{slug}",
    "/api/v1/rs-catalog/licenses/{slug}/accept",
    "/api/v1/rs-storage/quota/current",
    "/api/v1/rs-storage/quota/{email}",
    "/api/v1/rs-catalog/availability/files",
    "/api/v1/rs-catalog/availability/files/{product_id}",
    "/api/v1/rs-catalog/restore",
    "/api/v1/rs-catalog/restore/{product_id}",
}


@pytest.fixture(scope="module")
def schema_yaml(django_db_blocker):
    """The schema is generated from code only; built once for the module."""
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get(SCHEMA)
    assert response.status_code == 200, response.content
    return response


def test_schema_is_an_openapi_3_document_in_yaml(schema_yaml):
    assert schema_yaml["Content-Type"].startswith("application/vnd.oai.openapi")
    document = yaml.safe_load(schema_yaml.content)

    assert document["openapi"].startswith("3.")
    assert document["info"]["title"]
    assert document["info"]["version"]


def test_schema_lists_every_api_path(schema_yaml):
    paths = yaml.safe_load(schema_yaml.content)["paths"]

    assert DOCUMENTED_PATHS <= set(paths)


def test_schema_documents_the_methods_of_each_path(schema_yaml):
    paths = yaml.safe_load(schema_yaml.content)["paths"]

    assert "get" in paths["/api/v1/rs-catalog/downloads/{aip_id}/files/{checksum}"]
    assert set(paths["/api/v1/rs-storage/quota/{email}"]) >= {"get", "put"}
    assert "post" in paths["/api/v1/rs-catalog/restore"]
    assert "post" in paths["/api/v1/rs-catalog/availability/files"]
    search = paths["/api/v1/rs-catalog/engines/legacy/dataobjects/search"]["get"]
    assert {"q", "page", "size", "sort"} <= {p["name"] for p in search["parameters"]}


def test_schema_is_served_as_json_on_request(client):
    response = client.get(SCHEMA, {"format": "json"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.")
    assert DOCUMENTED_PATHS <= set(document["paths"])


def test_schema_needs_no_login(api_client):
    assert api_client.get(SCHEMA).status_code == 200


def test_docs_page_is_html_pointing_at_the_schema(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "<html" in page.lower()
    assert SCHEMA in page


# Admin


def test_admin_login_page_needs_no_login(client):
    response = client.get("/admin/login/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert 'name="password"' in response.content.decode()
    assert "csrfmiddlewaretoken" in response.content.decode()


def test_admin_redirects_anonymous_users_to_login(client):
    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"


def test_admin_redirects_users_without_staff_status_to_login(client):
    client.force_login(UserFactory())

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_admin_opens_for_a_steward(client):
    client.force_login(UserFactory(steward=True))

    response = client.get("/admin/")

    assert response.status_code == 200
