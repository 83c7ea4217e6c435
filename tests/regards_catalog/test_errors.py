"""One error shape (SPEC §4 intro, §8): JSON `{"code", "message"}`, HTML for browsers."""

import json

import pytest
from django.conf import settings
from django.test import RequestFactory
from django.urls import path
from knox.models import AuthToken
from rest_framework.views import APIView

from downloads.models import Quota, RestoreRequest
from regards_catalog import urls as project_urls
from regards_catalog.errors import server_error
from regards_catalog.parsers import depth
from tests.factories import QuotaFactory, UserFactory
from tests.helpers import assert_api_error

pytestmark = pytest.mark.django_db

API = "/api/v1/rs-catalog/engines/legacy"
MISSING_PRODUCT = f"{API}/dataobjects/URN:FEATURE:DATA:test:00000000-0000-0000-0000-000000000000:V1"
AVAILABILITY = "/api/v1/rs-catalog/availability/files"
RESTORE = "/api/v1/rs-catalog/restore"
TOKEN = "/api/v1/rs-authentication/oauth/token"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def assert_html_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert page.lstrip().lower().startswith("<!doctype html")
    assert code in page
    return page


# Unknown paths (Django's 404 handler)


@pytest.mark.parametrize("url", ["/api/v1/nothing-here", "/api/v1/rs-catalog/", "/nothing"])
def test_unknown_path_is_a_json_404(client, url):
    body = assert_api_error(client.get(url), 404, "not_found")

    assert set(body) == {"code", "message", "messages"}


def test_unknown_path_is_an_html_page_for_a_browser(client):
    assert_html_error(
        client.get("/api/v1/nothing-here", HTTP_ACCEPT=BROWSER_ACCEPT), 404, "not_found"
    )


@pytest.mark.parametrize(
    "accept", ["application/json", "application/json, text/html", "*/*", "", "application/*"]
)
def test_unknown_path_is_json_unless_html_is_preferred(client, accept):
    response = client.get("/api/v1/nothing-here", HTTP_ACCEPT=accept, HTTP_USER_AGENT=FIREFOX)

    assert_api_error(response, 404, "not_found")


# Errors of API views (DRF)


def test_api_error_is_json(api_client):
    body = assert_api_error(api_client.get(MISSING_PRODUCT), 404, "not_found")

    assert set(body) == {"code", "message", "messages"}


def test_api_error_is_an_html_page_for_a_browser(api_client):
    page = assert_html_error(
        api_client.get(MISSING_PRODUCT, HTTP_ACCEPT=BROWSER_ACCEPT), 404, "not_found"
    )

    assert "404" in page


def test_api_error_is_chosen_by_accept_not_user_agent(api_client):
    response = api_client.get(MISSING_PRODUCT, HTTP_USER_AGENT=FIREFOX)

    assert_api_error(response, 404, "not_found")


@pytest.mark.parametrize("accept", ["application/octet-stream", "image/png", "application/xml"])
def test_api_error_is_json_when_nothing_we_render_is_accepted(api_client, accept):
    response = api_client.get(MISSING_PRODUCT, HTTP_ACCEPT=accept)

    assert_api_error(response, 404, "not_found")


def test_api_success_is_json_when_nothing_we_render_is_accepted(api_client):
    response = api_client.get(f"{API}/dataobjects/search", HTTP_ACCEPT="application/octet-stream")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["content"] == []


def test_wrong_method_is_a_json_405(api_client):
    response = api_client.delete(f"{API}/dataobjects/search")

    assert_api_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_malformed_json_body_is_an_invalid_request(api_client):
    response = api_client.post(AVAILABILITY, "{", content_type="application/json")

    assert_api_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    "body",
    ['{"product_ids": "not a list"}', '{"product_ids": [1, {}]}', "[]", "null", '"x"', "{}"],
)
def test_json_body_of_the_wrong_shape_is_an_invalid_request(api_client, body):
    response = api_client.post(AVAILABILITY, body, content_type="application/json")

    assert_api_error(response, 400, "invalid_request")


def test_body_in_an_unsupported_media_type_is_refused(api_client):
    response = api_client.post(AVAILABILITY, "<ids/>", content_type="application/xml")

    assert_api_error(response, 415, "unsupported_media_type")


def test_validation_errors_name_the_field(api_client):
    body = assert_api_error(
        api_client.get(f"{API}/dataobjects/search?size=0"), 400, "invalid_request"
    )

    assert "size" in body["message"]
    assert "size" in body["errors"]


# Django's own 500 handler


def test_server_error_handler_answers_json():
    request = RequestFactory().get("/api/v1/anything")

    response = server_error(request)

    body = assert_api_error(response, 500, "server_error")
    assert set(body) == {"code", "message", "messages"}


def test_server_error_handler_answers_html_to_a_browser():
    request = RequestFactory().get("/api/v1/anything", HTTP_ACCEPT=BROWSER_ACCEPT)

    assert_html_error(server_error(request), 500, "server_error")


# A URLconf for the tests below: the project's, plus views that fail as a bug would.


def failing_view(request):
    raise RuntimeError("a bug")


class FailingApiView(APIView):
    def get(self, request):
        raise RuntimeError("a bug in an API view")


urlpatterns = [
    path("api/v1/test-failure", failing_view),
    path("api/v1/test-api-failure", FailingApiView.as_view()),
    *project_urls.urlpatterns,
]
handler404 = project_urls.handler404
handler500 = project_urls.handler500


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("url", ["/api/v1/test-failure", "/api/v1/test-api-failure"])
def test_a_bug_in_a_view_is_a_json_500(client, url):
    client.raise_request_exception = False

    response = client.get(url)

    body = assert_api_error(response, 500, "server_error")
    assert "a bug" not in body["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/licenses/%00", {}),
        ("/api/v1/rs-catalog/licenses/%00", {}),
        (f"{API}/dataobjects/URN%00", {}),
        (f"{API}/dataobjects/search?q=%00", {}),
        (f"{API}/dataobjects/search?token=%00", {}),
        (f"{API}/dataobjects/search?%00=1", {}),
        (f"{API}/dataobjects/search", {"HTTP_AUTHORIZATION": "Bearer abc\x00"}),
        ("/admin/products/product/?q=%00", {}),
    ],
)
def test_a_nul_character_is_a_400_on_every_database(client, url, headers):
    """PostgreSQL refuses NUL in text parameters: it must never reach a query (a 500)."""
    response = client.get(url, **headers)

    assert_api_error(response, 400, "invalid_request")


# Hostile credentials: never a 500, never an anonymous call


@pytest.mark.parametrize(
    "header",
    [
        "Token abc",
        "Basic " + "A" * 10000,
        "Bearer " + "x" * 10000,
        "Négociation abc",
        'Digest username="a", realm="b"',
        ",",
    ],
    ids=["token", "long-basic", "long-bearer", "latin-1", "digest", "comma"],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_hostile_authorization_is_a_json_401(client, header, method):
    response = getattr(client, method)(AVAILABILITY, HTTP_AUTHORIZATION=header)

    assert_api_error(response, 401, "invalid_token")


@pytest.mark.parametrize("token", ["%00", "x" * 10000, "%FF", "a&token=b"])
def test_hostile_query_token_on_a_post_is_a_json_401(client, token):
    response = client.post(
        f"{AVAILABILITY}?token={token}", {"product_ids": []}, content_type="application/json"
    )

    assert response.status_code in (400, 401), response.content
    assert response["Content-Type"].startswith("application/json")


# Hostile bodies: bounded in depth and size, once for the whole API


def nested(levels):
    """A JSON array `levels` deep."""
    return "[" * levels + "]" * levels


@pytest.fixture
def body_endpoints(client_for):
    """(client, method, url) of every endpoint that reads a JSON body, and a check that it
    wrote nothing: no restore request, no token, the quota row as it was."""
    steward = client_for(UserFactory(steward=True))
    quota = QuotaFactory(max_quota=5, rate_limit=2, max_volume=100)
    endpoints = {
        "availability": (client_for(UserFactory()), "post", AVAILABILITY),
        "restore": (client_for(UserFactory()), "post", RESTORE),
        "token": (client_for(UserFactory()), "post", TOKEN),
        "quota": (steward, "put", f"/api/v1/rs-storage/quota/{quota.user.email}"),
    }
    tokens = AuthToken.objects.count()  # the clients' own

    def assert_nothing_written():
        assert not RestoreRequest.objects.exists()
        assert AuthToken.objects.count() == tokens
        assert Quota.objects.filter(max_quota=5, rate_limit=2, max_volume=100).count() == 1
        assert Quota.objects.count() == 1

    return endpoints, assert_nothing_written


@pytest.mark.parametrize("levels", [33, 1000, 100_000])
@pytest.mark.parametrize("endpoint", ["availability", "restore", "token", "quota"])
def test_a_json_body_nested_too_deep_is_an_invalid_request(body_endpoints, endpoint, levels):
    """Python's JSON parser gave up near 1000 levels with a RecursionError: a 500."""
    endpoints, assert_nothing_written = body_endpoints
    client, method, url = endpoints[endpoint]
    body = json.dumps({"product_ids": "@", "email": "a@b.c"}).replace('"@"', nested(levels - 1))

    response = getattr(client, method)(url, body, content_type="application/json")

    body = assert_api_error(response, 400, "invalid_request")
    assert "32 levels" in body["message"]
    assert_nothing_written()


def test_a_json_body_32_levels_deep_is_read(api_client):
    user = UserFactory(password="secret-password")
    body = {"grant_type": "password", "username": user.email, "password": "secret-password"}
    body["unused"] = json.loads(nested(31))  # 32 levels with the body's own object

    response = api_client.post(TOKEN, json.dumps(body), content_type="application/json")

    assert response.status_code == 200, response.content
    assert AuthToken.objects.filter(user=user).count() == 1


@pytest.mark.parametrize(
    ("value", "levels"),
    [(1, 0), ("x", 0), ([], 1), ({}, 1), ([1, [2, {"a": [3]}]], 4), ({"a": [], "b": {"c": 1}}, 2)],
)
def test_depth_counts_the_levels_of_arrays_and_objects(value, levels):
    assert depth(value) == levels


@pytest.mark.parametrize(
    ("endpoint", "content_type"),
    [
        ("availability", "application/json"),
        ("restore", "application/json"),
        ("token", "application/json"),
        ("token", "application/x-www-form-urlencoded"),
        ("quota", "application/json"),
    ],
)
def test_a_body_over_the_upload_limit_is_a_413(body_endpoints, endpoint, content_type):
    endpoints, assert_nothing_written = body_endpoints
    client, method, url = endpoints[endpoint]
    body = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)

    response = getattr(client, method)(url, body, content_type=content_type)

    assert_api_error(response, 413, "request_too_large")
    assert_nothing_written()


def test_a_body_over_the_upload_limit_is_a_413_outside_the_api_too(client):
    body = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)

    response = client.post(
        "/accounts/login/", body, content_type="application/x-www-form-urlencoded"
    )

    assert_api_error(response, 413, "request_too_large")


def test_a_form_body_with_too_many_fields_is_an_invalid_request(api_client):
    body = "&".join(f"field{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))

    response = api_client.post(TOKEN, body, content_type="application/x-www-form-urlencoded")

    assert_api_error(response, 400, "invalid_request")
    assert not AuthToken.objects.exists()
