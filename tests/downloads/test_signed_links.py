"""Signed download links: made after checks 1 to 6, used without a token, every check run
again for the signing user, and refused once stale, tampered with or revoked."""

from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from knox.models import AuthToken
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from downloads.models import DownloadRecord, Quota
from downloads.signed_links import signed_url
from products.models import AccessRight
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    LicenseAcceptanceFactory,
    LicenseFactory,
    ProductFactory,
    UserFactory,
)
from tests.helpers import assert_api_error, body_of, download_url, md5

pytestmark = pytest.mark.django_db

CONTENT = b"bytes behind a signed link\n"
Outcome = DownloadRecord.Outcome


@pytest.fixture
def member():
    """A user whose group may download the private files of one dataset."""
    user = UserFactory()
    user.rights = AccessRightFactory(group=AccessGroupFactory(members=[user]))
    return user


@pytest.fixture
def private_file(member, file_in):
    """A private (RAWDATA) file that only `member` may download."""
    return file_in(ProductFactory(dataset=member.rights.dataset), CONTENT)


def link_url(data_file):
    return download_url(data_file) + "/link"


def make_link(client, data_file, **body):
    return make_link_with(client, data_file, body)


def make_link_with(client, data_file, body=None, **headers):
    response = client.post(link_url(data_file), body, format="json", **headers)
    assert response.status_code == 200, response.content
    return response.json()


def relative(url):
    """The path and query of an absolute link, for the test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def with_param(url, **changes):
    """`url` with some of its query parameters replaced."""
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    return f"{parts.path}?{urlencode({**query, **changes})}"


def test_a_link_downloads_the_file_without_a_token_and_counts_for_its_user(
    member, private_file, client_for
):
    link = make_link(client_for(member), private_file)
    assert link["url"].startswith("http")
    assert "token" not in link["url"]
    expires = parse_datetime(link["expires"])
    assert timedelta(minutes=59) < expires - timezone.now() <= timedelta(hours=1)

    response = APIClient().get(relative(link["url"]))

    assert response.status_code == 200
    assert md5(body_of(response)) == private_file.checksum
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="{private_file.filename}"'
    )
    record = DownloadRecord.objects.get()
    assert (record.user, record.outcome, record.bytes_sent) == (
        member,
        Outcome.COMPLETED,
        len(CONTENT),
    )
    assert Quota.objects.get(user=member).current_quota == 1


def test_head_on_a_link_answers_as_get_would_without_counting(member, private_file, client_for):
    link = make_link(client_for(member), private_file)
    response = APIClient().head(relative(link["url"]))
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(CONTENT))
    assert not DownloadRecord.objects.exists()


def test_a_browser_session_can_make_a_link(member, private_file):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(member)
    response = browser.post(link_url(private_file))
    assert response.status_code == 403  # a session POST needs its CSRF token
    browser.get("/account")  # sets the CSRF cookie, as the page would
    csrf = browser.cookies["csrftoken"].value
    link = make_link_with(browser, private_file, HTTP_X_CSRFTOKEN=csrf)
    assert APIClient().get(relative(link["url"])).status_code == 200


def test_expires_in_sets_the_lifetime_up_to_a_day(member, private_file, client_for):
    client = client_for(member)
    link = make_link(client, private_file, expiresIn=24 * 3600)
    expires = parse_datetime(link["expires"])
    assert timedelta(hours=23, minutes=59) < expires - timezone.now() <= timedelta(hours=24)
    for wrong in (24 * 3600 + 1, 0, -5, "soon", "1e3", 1e300, True, None, [60], {"s": 1}):
        response = client.post(link_url(private_file), {"expiresIn": wrong}, format="json")
        assert_api_error(response, 400, "invalid_request")
    for body in ([60], "60"):  # not a JSON object
        response = client.post(link_url(private_file), body, format="json")
        assert_api_error(response, 400, "invalid_request")
    query = client.post(link_url(private_file) + "?expiresIn=600")
    expires = parse_datetime(query.json()["expires"])
    assert timedelta(minutes=9) < expires - timezone.now() <= timedelta(minutes=10)


def test_a_link_never_outlives_the_token_it_was_made_with(member, private_file, client_for):
    client = client_for(member)
    token = AuthToken.objects.get(user=member)
    token.expiry = timezone.now() + timedelta(minutes=10)
    token.save()
    expires = parse_datetime(make_link(client, private_file, expiresIn=3600)["expires"])
    assert expires <= token.expiry


# Making a link runs checks 1 to 6 for the caller.


def test_an_anonymous_caller_gets_no_link(private_file, api_client):
    response = api_client.post(link_url(private_file))
    assert response.status_code == 401


def test_a_caller_without_file_access_gets_no_link(member, private_file, client_for):
    outsider = UserFactory()
    response = client_for(outsider).post(link_url(private_file))
    assert_api_error(response, 403, "forbidden")


def test_an_unknown_file_gets_no_link(member, private_file, client_for):
    url = f"/api/v1/rs-catalog/downloads/{private_file.product.urn}/files/{'0' * 32}/link"
    assert_api_error(client_for(member).post(url), 404, "not_found")


def test_a_licence_not_accepted_gets_no_link(member, private_file, client_for):
    dataset = private_file.product.dataset
    dataset.license = LicenseFactory()
    dataset.save()
    response = client_for(member).post(link_url(private_file))
    assert_api_error(response, 423, "license_not_accepted")


# Using a link: tampered, stale and revoked links are refused; the checks run again.


def test_a_tampered_link_is_link_invalid_and_counts_nothing(member, private_file, client_for):
    url = make_link(client_for(member), private_file)["url"]
    other_user = UserFactory()
    query = parse_qs(urlsplit(url).query)
    tampered = [
        with_param(url, user=other_user.pk),
        with_param(url, user="nobody"),
        with_param(url, expires=int(query["expires"][0]) + 3600),
        with_param(url, signature="0" * 64),
        with_param(url, signature=""),
        # the same signature on another file of the product
        with_param(url).replace(private_file.checksum, "f" * 32),
    ]
    for tampered_url in tampered:
        response = APIClient().get(tampered_url)
        assert_api_error(response, 403, "link_invalid")
    assert not DownloadRecord.objects.exists()


def signed_for(user, data_file, token, lifetime):
    """A link made as the API makes one, with any lifetime (the API refuses a past one)."""
    request = Request(APIRequestFactory().get("/"))
    request.user, request.auth = user, token
    return signed_url(request, data_file, lifetime=lifetime)[0]


def test_an_expired_link_is_link_expired(member, private_file, client_for):
    client_for(member)
    token = AuthToken.objects.get(user=member)
    url = signed_for(member, private_file, token, timedelta(seconds=-1))
    assert_api_error(APIClient().get(relative(url)), 403, "link_expired")
    fresh = signed_for(member, private_file, token, timedelta(minutes=1))
    assert APIClient().get(relative(fresh)).status_code == 200


def test_revoking_the_token_revokes_its_links(member, private_file, client_for):
    client = client_for(member)
    url = make_link(client, private_file)["url"]
    AuthToken.objects.filter(user=member).delete()  # logout, or a steward in the admin
    assert_api_error(APIClient().get(relative(url)), 403, "link_invalid")


def test_another_token_of_the_user_keeps_the_link_alive(member, private_file, client_for):
    url = make_link(client_for(member), private_file)["url"]
    client_for(member)  # a second token, made later
    assert APIClient().get(relative(url)).status_code == 200


def test_a_password_change_revokes_every_link(member, private_file, client_for):
    token_link = make_link(client_for(member), private_file)["url"]
    browser = APIClient()
    browser.force_login(member)
    session_link = make_link(browser, private_file)["url"]
    member.set_password("a new password")
    member.save()
    for url in (token_link, session_link):
        assert_api_error(APIClient().get(relative(url)), 403, "link_invalid")


def test_a_deactivated_user_links_stop(member, private_file, client_for):
    url = make_link(client_for(member), private_file)["url"]
    member.is_active = False
    member.save()
    assert_api_error(APIClient().get(relative(url)), 403, "link_invalid")


def test_rights_revoked_after_the_link_was_made_refuse_it(member, private_file, client_for):
    url = make_link(client_for(member), private_file)["url"]
    member.rights.file_access = AccessRight.FileAccess.NO_ACCESS
    member.rights.save()
    assert_api_error(APIClient().get(relative(url)), 403, "forbidden")
    assert not DownloadRecord.objects.exists()


def test_a_new_licence_version_after_the_link_was_made_refuses_it(member, private_file, client_for):
    license = LicenseFactory()
    LicenseAcceptanceFactory(user=member, license=license)
    dataset = private_file.product.dataset
    dataset.license = license
    dataset.save()
    url = make_link(client_for(member), private_file)["url"]
    license.publish(new_version=True)
    response = APIClient().get(relative(url))
    body = assert_api_error(response, 423, "license_not_accepted")
    # acceptLicense needs a token: a link is not one, so the way out is the licence page.
    assert "signature=" in parse_qs(urlsplit(body["accept"]).query)["next"][0]
    assert APIClient().get(relative(url) + "&acceptLicense=true").status_code == 423


def test_a_link_counts_against_its_users_quota(member, private_file, client_for):
    Quota.objects.create(user=member, max_quota=1)
    url = relative(make_link(client_for(member), private_file)["url"])
    assert body_of(APIClient().get(url)) == CONTENT
    assert_api_error(APIClient().get(url), 429, "quota_exceeded")
    assert Quota.objects.get(user=member).current_quota == 1


def test_a_link_is_bound_to_its_file(member, private_file, file_in, client_for):
    other = file_in(private_file.product, b"another file of the product\n")
    url = make_link(client_for(member), private_file)["url"]
    moved = relative(url).replace(private_file.checksum, other.checksum)
    assert_api_error(APIClient().get(moved), 403, "link_invalid")


def test_a_link_with_a_bad_bearer_header_still_answers_as_the_link(
    member, private_file, client_for
):
    """The link decides who asks; a stale token a script also sends does not get in the
    way (and does not replace the link's user)."""
    url = relative(make_link(client_for(member), private_file)["url"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer stale")
    assert client.get(url).status_code == 200
    assert DownloadRecord.objects.get().user == member


def test_a_link_costs_a_download_one_query_more_than_a_token(member, private_file, client_for):
    """Its user and their tokens, where a token costs one query: no more."""
    client = client_for(member)
    link = relative(make_link(client, private_file)["url"])
    with CaptureQueriesContext(connection) as with_token:
        assert client.head(download_url(private_file)).status_code == 200
    with CaptureQueriesContext(connection) as with_link:
        assert APIClient().head(link).status_code == 200
    assert len(with_link) <= len(with_token) + 1
