"""Authentication (SPEC §4 intro, §8): the token endpoint, Bearer, `?token=`, the session."""

import logging
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from downloads.models import LicenseAcceptance, RestoreRequest
from products.models import AccessRight
from regards_catalog.log import MaskTokensFilter, mask_tokens
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    DataFileFactory,
    LicenseFactory,
    UserFactory,
)
from tests.helpers import assert_api_error, body_of, download_url

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/rs-authentication/oauth/token"
WHO_AM_I = "/api/v1/rs-storage/quota/current"  # answers with the caller's email
SEARCH = "/api/v1/rs-catalog/engines/legacy/dataobjects/search"
LICENSES = "/api/v1/rs-catalog/licenses"
AVAILABILITY = "/api/v1/rs-catalog/availability/files"
RESTORE = "/api/v1/rs-catalog/restore"
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "secret-password"


@pytest.fixture
def alice():
    return UserFactory(email="alice@example.org", username="alice")


def login_form(client, **fields):
    body = {"grant_type": "password", "username": "alice@example.org", "password": PASSWORD}
    body.update(fields)
    body = {name: value for name, value in body.items() if value is not None}
    return client.post(TOKEN_URL, urlencode(body), content_type="application/x-www-form-urlencoded")


def login_json(client, **fields):
    body = {"grant_type": "password", "username": "alice@example.org", "password": PASSWORD}
    body.update(fields)
    body = {name: value for name, value in body.items() if value is not None}
    return client.post(TOKEN_URL, body, format="json")


def token_of(response):
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def assert_invalid_token(response):
    assert_api_error(response, 401, "invalid_token")
    assert response["WWW-Authenticate"].startswith("Bearer")


# The token endpoint


@pytest.mark.parametrize("login", [login_form, login_json], ids=["form", "json"])
def test_password_grant_issues_a_bearer_token(api_client, alice, login):
    response = login(api_client)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "sub",
        "email",
        "role",
        "tenant",
        "scope",
    }
    assert body["token_type"] == "bearer"
    assert body["sub"] == body["email"] == "alice@example.org"
    assert body["role"] == "REGISTERED_USER"
    assert body["tenant"] == body["scope"] == settings.PROJECT_NAME == "regards"
    assert isinstance(body["access_token"], str) and len(body["access_token"]) >= 32
    ttl = settings.TOKEN_TTL_HOURS * 3600
    assert ttl - 60 <= body["expires_in"] <= ttl
    (stored,) = AuthToken.objects.filter(user=alice)
    expected_expiry = timezone.now() + timedelta(seconds=body["expires_in"])
    assert abs((stored.expiry - expected_expiry).total_seconds()) < 60


def test_each_login_issues_a_new_token(api_client, alice):
    first, second = token_of(login_form(api_client)), token_of(login_form(api_client))

    assert first != second
    assert AuthToken.objects.filter(user=alice).count() == 2


@pytest.mark.parametrize("email", ["ALICE@EXAMPLE.ORG", "Alice@Example.org", "alice@example.org"])
def test_login_takes_the_email_in_any_case(api_client, alice, email):
    token = token_of(login_json(api_client, username=email))

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api_client.get(WHO_AM_I).json()["email"] == "alice@example.org"


def test_login_identifies_users_by_email_not_username(api_client, alice):
    response = login_json(api_client, username="alice")

    assert_api_error(response, 400, "invalid_grant")


@pytest.mark.parametrize(
    "fields",
    [{"password": "wrong-password"}, {"username": "nobody@example.org"}],
    ids=["wrong-password", "unknown-email"],
)
def test_bad_credentials_are_an_invalid_grant(api_client, alice, fields):
    for login in (login_form, login_json):
        assert_api_error(login(api_client, **fields), 400, "invalid_grant")
    assert not AuthToken.objects.exists()


def test_inactive_user_cannot_log_in(api_client, alice):
    alice.is_active = False
    alice.save()

    assert_api_error(login_json(api_client), 400, "invalid_grant")


@pytest.mark.parametrize(
    "fields",
    [{"username": None}, {"password": None}, {"password": ""}],
    ids=["no-username", "no-password", "empty-password"],
)
def test_missing_field_is_an_invalid_request(api_client, alice, fields):
    for login in (login_form, login_json):
        assert_api_error(login(api_client, **fields), 400, "invalid_request")
    assert not AuthToken.objects.exists()


def test_grant_type_may_be_left_out(api_client, alice):
    for login in (login_form, login_json):
        token_of(login(api_client, grant_type=None))

    assert AuthToken.objects.filter(user=alice).count() == 2


@pytest.mark.parametrize("grant_type", ["client_credentials", "refresh_token", "PASSWORD", ""])
def test_other_grant_types_are_refused(api_client, alice, grant_type):
    form = login_form(api_client, grant_type=grant_type)
    query = api_client.post(f"{TOKEN_URL}?{urlencode(frontend_query(grant_type=grant_type))}")

    for response in (form, query):
        assert_api_error(response, 400, "unsupported_grant_type")
        assert "grant_type" in response.json()["message"]
    assert not AuthToken.objects.exists()


def frontend_query(**fields):
    query = {
        "grant_type": "password",
        "username": "alice@example.org",
        "password": PASSWORD,
        "scope": "regards",
    }
    query.update(fields)
    return query


def login_as_the_frontend(client, **fields):
    """Exactly what regards-frontend's AuthenticateActions.js sends: the credentials in the
    query string, an empty JSON body and the OAuth client as Basic."""
    return client.post(
        f"{TOKEN_URL}?{urlencode(frontend_query(**fields))}",
        "{}",
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic Y2xpZW50OnNlY3JldA==",
    )


def test_the_frontend_login_gets_a_token_that_downloads(api_client, alice, stored_file):
    data_file = stored_file(b"alice's raw data", file_access=AccessRight.FileAccess.NO_ACCESS)
    group = AccessGroupFactory(members=[alice])
    AccessRightFactory(group=group, dataset=data_file.product.dataset)
    assert_api_error(api_client.get(download_url(data_file)), 403, "forbidden")

    response = login_as_the_frontend(api_client)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["sub"] == "alice@example.org"
    assert body["scope"] == body["tenant"] == "regards"
    downloaded = APIClient().get(download_url(data_file, token=body["access_token"]))
    assert downloaded.status_code == 200
    assert body_of(downloaded) == b"alice's raw data"


def test_the_body_wins_over_the_query_string(api_client, alice):
    url = f"{TOKEN_URL}?{urlencode(frontend_query(password='wrong-password'))}"

    response = api_client.post(url, {"password": PASSWORD}, format="json")

    token_of(response)


@pytest.mark.parametrize("fields", [{"password": None}, {"username": None}])
def test_the_frontend_login_without_a_credential_is_an_invalid_request(api_client, alice, fields):
    query = {name: value for name, value in frontend_query(**fields).items() if value}

    response = api_client.post(
        f"{TOKEN_URL}?{urlencode(query)}", "{}", content_type="application/json"
    )

    assert_api_error(response, 400, "invalid_request")


def test_another_project_is_an_invalid_scope(api_client, alice):
    response = login_as_the_frontend(api_client, scope="another-project")

    assert_api_error(response, 400, "invalid_scope")
    assert "regards" in response.json()["message"]
    assert not AuthToken.objects.exists()


def test_project_name_is_a_setting(api_client, alice, settings):
    settings.PROJECT_NAME = "cdpp"

    response = login_as_the_frontend(api_client, scope="cdpp")

    assert response.json()["tenant"] == response.json()["scope"] == "cdpp"


@pytest.mark.parametrize(
    ("user", "role"),
    [
        ({}, "REGISTERED_USER"),
        ({"steward": True}, "ADMIN"),
        ({"is_superuser": True}, "ADMIN"),
        ({"is_staff": True}, "REGISTERED_USER"),
    ],
    ids=["user", "steward", "superuser", "staff-only"],
)
def test_the_role_says_who_administers_the_project(api_client, user, role):
    UserFactory(email="alice@example.org", username="alice", **user)

    assert login_as_the_frontend(api_client).json()["role"] == role


@pytest.mark.parametrize("body", ["{", "[]", '"text"', "null"])
def test_malformed_json_login_is_a_client_error(api_client, alice, body):
    response = api_client.post(TOKEN_URL, body, content_type="application/json")

    assert_api_error(response, 400, "invalid_request")


def test_login_is_not_blocked_by_a_stale_token_in_the_header(api_client, alice):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer stale-or-garbage")

    token_of(login_json(api_client))


def test_token_endpoint_only_accepts_post(api_client, alice):
    response = api_client.get(TOKEN_URL, {"username": "alice@example.org", "password": PASSWORD})

    assert_api_error(response, 405, "method_not_allowed")


# Using the token


def test_token_works_as_bearer(api_client, alice):
    token = token_of(login_form(api_client))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = client.get(WHO_AM_I)

    assert response.status_code == 200
    assert response.json()["email"] == "alice@example.org"


def test_token_works_in_the_query_string_on_get_and_head(api_client, alice):
    token = token_of(login_form(api_client))

    got = api_client.get(WHO_AM_I, {"token": token})
    head = api_client.head(WHO_AM_I, {"token": token})

    assert got.status_code == 200
    assert got.json()["email"] == "alice@example.org"
    assert head.status_code == 200
    assert head.content == b""


def test_query_token_works_on_post(alice, token_for):
    client = APIClient(enforce_csrf_checks=True)  # a token in the URL is not a cookie
    license = LicenseFactory()

    response = client.post(f"{LICENSES}/{license.slug}/accept?token={token_for(alice)}")

    assert response.status_code == 200, response.content
    assert LicenseAcceptance.objects.filter(user=alice, license=license).exists()


@pytest.fixture
def alice_only_product(alice):
    """A product that only alice's group may see and download."""
    group = AccessGroupFactory(members=[alice])
    data_file = DataFileFactory()
    AccessRightFactory(group=group, dataset=data_file.product.dataset)
    return data_file.product


@pytest.mark.parametrize("path", [AVAILABILITY, RESTORE])
def test_query_token_on_post_runs_as_that_user(
    api_client, alice, token_for, alice_only_product, path
):
    body = {"product_ids": [alice_only_product.urn]}

    anonymous = api_client.post(path, body, format="json")
    with_token = api_client.post(f"{path}?token={token_for(alice)}", body, format="json")

    assert anonymous.json()["products"] == []
    assert [p["id"] for p in with_token.json()["products"]] == [alice_only_product.urn]


@pytest.mark.parametrize("path", [AVAILABILITY, RESTORE])
def test_bad_query_token_on_post_is_401(api_client, alice_only_product, path):
    body = {"product_ids": [alice_only_product.urn]}

    assert_invalid_token(api_client.post(f"{path}?token=not-a-real-token", body, format="json"))
    assert not RestoreRequest.objects.exists()


def test_bad_query_token_on_a_licence_accept_is_401(api_client):
    license = LicenseFactory()

    response = api_client.post(f"{LICENSES}/{license.slug}/accept?token=not-a-real-token")

    assert_invalid_token(response)
    assert not LicenseAcceptance.objects.exists()


def test_query_token_on_post_never_reaches_the_log(api_client, alice, token_for, caplog):
    token = token_for(alice)
    with caplog.at_level(logging.DEBUG):
        api_client.post(f"{LICENSES}/no-such-licence/accept?token={token}")
        api_client.post(f"{LICENSES}/no-such-licence/accept?token={token}x")

    assert caplog.records  # the 404 and the 401 were logged
    assert token not in caplog.text


def test_gunicorn_access_log_leaves_out_the_query_string():
    config = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), config)

    assert "%(U)s" in config["access_log_format"]
    for atom in ("%(r)s", "%(q)s", "%(f)s"):  # request line, query string, referer
        assert atom not in config["access_log_format"]


def test_bearer_token_works_on_post_without_csrf(alice, token_for):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}")
    license = LicenseFactory()

    response = client.post(f"/api/v1/rs-catalog/licenses/{license.slug}/accept")

    assert response.status_code == 200
    assert LicenseAcceptance.objects.filter(user=alice, license=license).exists()


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-real-token", "Bearer a b", "Bearer ", "Bearer \u00e9\u00e9\u00e9"],
    ids=["garbage", "two-parts", "empty", "latin-1"],
)
def test_bad_bearer_token_is_401_never_anonymous(api_client, alice, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)

    assert_invalid_token(api_client.get(SEARCH))


@pytest.mark.parametrize(
    "header",
    [
        "Token abcdef0123456789",
        "Basic YWxpY2VAZXhhbXBsZS5vcmc6c2VjcmV0LXBhc3N3b3Jk",
        "garbage",
        "Bearer",
        "",
        "   ",
        "Bearer\tnot-a-real-token",
    ],
    ids=["token", "basic", "garbage", "empty-bearer", "empty", "blank", "tab"],
)
@pytest.mark.parametrize("path", [WHO_AM_I, SEARCH, "/api/v1/rs-catalog/downloads/URN:X/files/abc"])
def test_any_other_authorization_is_401_never_anonymous(api_client, alice, header, path):
    api_client.credentials(HTTP_AUTHORIZATION=header)

    assert_invalid_token(api_client.get(path))


def test_another_scheme_is_401_even_with_a_valid_token(api_client, alice, token_for):
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(alice)}")

    assert_invalid_token(api_client.get(WHO_AM_I))


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_the_bearer_scheme_is_case_insensitive(api_client, alice, token_for, scheme):
    api_client.credentials(HTTP_AUTHORIZATION=f"{scheme} {token_for(alice)}")

    response = api_client.get(WHO_AM_I)

    assert response.status_code == 200
    assert response.json()["email"] == "alice@example.org"


def test_the_token_endpoint_takes_basic_client_credentials(api_client, alice):
    """REGARDS clients send the OAuth client's id and secret as Basic."""
    api_client.credentials(HTTP_AUTHORIZATION="Basic Y2xpZW50OnNlY3JldA==")

    token = token_of(login_form(api_client))

    assert AuthToken.objects.filter(user=alice).count() == 1
    assert len(token) >= 32


@pytest.mark.parametrize("token", ["not-a-real-token", "", "%FF%FE", "x" * 5000])
def test_bad_query_token_is_401_never_anonymous(api_client, alice, token):
    response = api_client.get(f"{SEARCH}?token={token}")

    assert_invalid_token(response)


def test_bad_query_token_is_401_on_head(api_client):
    response = api_client.head(SEARCH, {"token": "not-a-real-token"})

    assert response.status_code == 401


def test_expired_token_is_401(api_client, alice, token_for):
    token = token_for(alice)
    AuthToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))

    assert_invalid_token(api_client.get(WHO_AM_I, {"token": token}))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_invalid_token(api_client.get(WHO_AM_I))


def test_token_of_a_deactivated_user_is_401(api_client, alice, token_for):
    token = token_for(alice)
    alice.is_active = False
    alice.save()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert_invalid_token(api_client.get(WHO_AM_I))


def test_token_is_stored_hashed(api_client, alice):
    token = token_of(login_json(api_client))

    for row in AuthToken.objects.values():
        for value in row.values():
            assert token not in str(value)


# The Django session


def test_session_login_works_on_the_api(alice):
    client = APIClient()
    client.force_login(alice)

    response = client.get(WHO_AM_I)

    assert response.status_code == 200
    assert response.json()["email"] == "alice@example.org"


def test_session_post_needs_a_csrf_token(alice):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    license = LicenseFactory()

    response = client.post(f"/api/v1/rs-catalog/licenses/{license.slug}/accept")

    assert_api_error(response, 403, "forbidden")
    assert not LicenseAcceptance.objects.exists()


def test_admin_login_sets_a_secure_http_only_session_cookie(client):
    UserFactory(email="admin@example.org", username="admin", is_staff=True)

    response = client.post(
        "/admin/login/?next=/admin/", {"username": "admin", "password": PASSWORD}
    )

    assert response.status_code == 302
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["secure"] is True
    assert cookie["httponly"] is True


# Tokens never reach the logs


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("GET /x?token=abc&x=1 HTTP/1.1", "GET /x?token=***&x=1 HTTP/1.1"),
        ("/x?a=1&token=abc", "/x?a=1&token=***"),
        ("/x?access_token=abc", "/x?access_token=***"),
        ("/x?TOKEN=abc", "/x?TOKEN=***"),
        ('"GET /x?token=abc" 200', '"GET /x?token=***" 200'),
        ("/x?a=1&token=abc&token=def", "/x?a=1&token=***&token=***"),
        ("/x?tokens=abc&page=1", "/x?tokens=abc&page=1"),
        (
            "/oauth/token?username=a%40b.org&password=s3cret",
            "/oauth/token?username=a%40b.org&password=***",
        ),
        ("/f?user=3&expires=9&signature=ab12", "/f?user=3&expires=9&signature=***"),
        ("no token here", "no token here"),
    ],
)
def test_mask_tokens_hides_tokens_in_urls(text, masked):
    assert mask_tokens(text) == masked


def test_log_filter_masks_tokens_in_log_records(caplog):
    logger = logging.getLogger("tests.auth.masking")
    mask = MaskTokensFilter()
    logger.addFilter(mask)
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            logger.info("GET %s 200", "/api/v1/x?token=abc&x=1")
    finally:
        logger.removeFilter(mask)

    (record,) = caplog.records
    assert record.getMessage() == "GET /api/v1/x?token=***&x=1 200"
    assert "abc" not in caplog.text


def test_log_filter_leaves_other_records_alone():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "page %s of %s", (1, 2), None)

    assert MaskTokensFilter().filter(record) is True
    assert (record.msg, record.args) == ("page %s of %s", (1, 2))


@pytest.mark.parametrize("name", ["django.request", "django.server", "gunicorn.access", "root"])
def test_configured_log_handlers_mask_tokens(name):
    logger = logging.getLogger() if name == "root" else logging.getLogger(name)
    configured = [h for h in logger.handlers if type(h) is logging.StreamHandler]

    assert configured
    for handler in configured:
        assert any(isinstance(f, MaskTokensFilter) for f in handler.filters)
