"""One error shape (SPEC §4 intro, §8): JSON `{"code", "message"}`, HTML for browsers."""

import pytest
from django.test import RequestFactory
from django.urls import path
from rest_framework.views import APIView

from regards_catalog import urls as project_urls
from regards_catalog.errors import server_error
from tests.helpers import assert_api_error

pytestmark = pytest.mark.django_db

API = "/api/v1/rs-catalog/engines/legacy"
MISSING_PRODUCT = f"{API}/dataobjects/URN:FEATURE:DATA:test:00000000-0000-0000-0000-000000000000:V1"
AVAILABILITY = "/api/v1/rs-catalog/availability/files"
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

    assert set(body) == {"code", "message"}


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

    assert set(body) == {"code", "message"}


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
    assert set(body) == {"code", "message"}


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
