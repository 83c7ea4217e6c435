"""A refused download, for a browser (Accept: text/html): an HTML page with the reason and
the next step (templates/error.html); the browser tests (tests/browser) click through them."""

import html
import re
from urllib.parse import quote, urlencode

import pytest

from downloads.models import LicenseAcceptance, QuotaDefaults, RestoreRequest
from products.models import AccessRight
from tests.factories import (
    LicenseFactory,
    QuotaFactory,
    RestoreRequestFactory,
    RunningDownloadFactory,
    UserFactory,
)
from tests.helpers import assert_api_error, download_url

pytestmark = pytest.mark.django_db

BROWSER = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def post_form(client, url, fields, **headers):
    """POST `fields` as a browser's form does (the test client would send multipart)."""
    return client.post(
        url, urlencode(fields), content_type="application/x-www-form-urlencoded", **headers
    )


def page_of(response, status):
    """The page's text with its entities decoded, once its status and type are checked."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("text/html")
    return html.unescape(response.content.decode())


def links(page):
    return re.findall(r'href="([^"]*)"', page)


@pytest.fixture
def licensed_file(stored_file):
    data_file = stored_file()
    data_file.product.dataset.license = LicenseFactory()
    data_file.product.dataset.save(update_fields=["license"])
    return data_file


def test_423_sends_an_anonymous_browser_to_the_licence_page_then_back(client, licensed_file):
    url = download_url(licensed_file, isContentInline="true")

    page = page_of(client.get(url + "&acceptLicense=true", **BROWSER), 423)

    license_page = f"/licenses/{licensed_file.product.dataset.license.slug}?next={quote(url, '')}"
    assert f"http://testserver{license_page}" in links(page)
    assert "log in and accept it" in page


def test_423_json_for_an_anonymous_caller_links_to_the_licence_page_too(api_client, licensed_file):
    body = assert_api_error(
        api_client.get(download_url(licensed_file)), 423, "license_not_accepted"
    )

    slug = licensed_file.product.dataset.license.slug
    assert (
        body["accept"]
        == f"http://testserver/licenses/{slug}?next={quote(download_url(licensed_file), '')}"
    )


def test_accepting_on_the_licence_page_goes_back_to_the_download(client, licensed_file):
    user = UserFactory()
    client.force_login(user)
    license = licensed_file.product.dataset.license

    response = client.post(f"/licenses/{license.slug}?next={quote(download_url(licensed_file))}")

    assert response.status_code == 302
    assert response["Location"] == download_url(licensed_file)
    assert LicenseAcceptance.objects.get(user=user).version == license.version


@pytest.mark.parametrize("next_url", ["https://evil.example.org/", "//evil.example.org/x"])
def test_accepting_never_sends_the_browser_to_another_site(client, next_url):
    user = UserFactory()
    client.force_login(user)
    license = LicenseFactory()

    response = client.post(f"/licenses/{license.slug}", QUERY_STRING=f"next={quote(next_url)}")

    assert response.status_code == 200
    assert "evil.example.org" not in response.content.decode()
    assert LicenseAcceptance.objects.get(user=user).license == license


def test_401_and_403_offer_an_anonymous_visitor_to_log_in(client, stored_file):
    hidden = stored_file()
    AccessRight.objects.filter(dataset=hidden.product.dataset).delete()
    members_only = stored_file(file_access=AccessRight.FileAccess.NO_ACCESS)

    for data_file, status in [(hidden, 401), (members_only, 403)]:
        url = download_url(data_file)
        page = page_of(client.get(url, **BROWSER), status)
        assert f"/accounts/login/?next={quote(url)}" in links(page)


def test_403_tells_a_logged_in_user_to_ask_for_access(client, stored_file):
    members_only = stored_file(file_access=AccessRight.FileAccess.NO_ACCESS)
    user = UserFactory(email="ana@example.org")
    client.force_login(user)

    page = page_of(client.get(download_url(members_only), **BROWSER), 403)

    assert "Your account (ana@example.org) has no access here" in page
    assert "/account" in links(page)
    assert not any(link.startswith("/accounts/login/") for link in links(page))


def test_404_says_what_is_missing_and_points_to_the_api_documentation(client, stored_file):
    data_file = stored_file()
    url = download_url(data_file).replace(data_file.checksum, "0" * 32)

    page = page_of(client.get(url, **BROWSER), 404)

    assert f"has no file with checksum {'0' * 32}" in page
    assert "/api/v1/docs" in links(page)


def test_409_has_a_restore_button_that_comes_back_to_the_download(client, stored_file):
    data_file = stored_file(location="nearline")
    url = download_url(data_file)

    page = page_of(client.get(url, **BROWSER), 409)

    form = re.search(r'<form method="post" action="([^"]+)">(.*?)</form>', page, re.S)
    assert form.group(1) == "http://testserver/api/v1/rs-catalog/restore"
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.group(2)))
    assert (fields["product_ids"], fields["next"]) == (data_file.product.urn, url)
    assert "Restore this file</button>" in form.group(2)

    # The button, pressed: the restore is queued and the browser goes back to the download.
    response = post_form(client, form.group(1), fields, **BROWSER)
    assert (response.status_code, response["Location"]) == (303, url)
    assert RestoreRequest.objects.get().status == RestoreRequest.Status.PENDING
    page = page_of(client.get(url, **BROWSER), 503)
    assert "Try again in 60 seconds" in page
    assert url in links(page)


def test_a_restore_form_never_sends_the_browser_to_another_site(client, stored_file):
    data_file = stored_file(location="nearline")
    fields = {"product_ids": data_file.product.urn, "next": "https://evil.example.org/"}

    response = post_form(client, "/api/v1/rs-catalog/restore", fields)

    assert response.status_code == 200  # the API's answer, no redirect
    assert response.json()["products"][0]["id"] == data_file.product.urn
    assert RestoreRequest.objects.get().status == RestoreRequest.Status.PENDING


def test_503_restore_pending_says_when_to_try_again(client, settings, stored_file):
    settings.RESTORE_RETRY_AFTER = 90
    data_file = stored_file(location="nearline")
    RestoreRequestFactory(data_file=data_file)

    response = client.get(download_url(data_file), **BROWSER)

    page = page_of(response, 503)
    assert response["Retry-After"] == "90"
    assert re.search(r"Try again in 90 seconds, at \d\d:\d\d:\d\d UTC", page)
    assert download_url(data_file) in links(page)


def test_429_rate_limited_says_when_to_try_again(client, settings, stored_file):
    settings.RATE_LIMIT_RETRY_AFTER = 1
    data_file = stored_file()
    user = UserFactory()
    RunningDownloadFactory(quota=QuotaFactory(user=user, rate_limit=1))
    client.force_login(user)

    page = page_of(client.get(download_url(data_file), **BROWSER), 429)

    assert "Too many simultaneous downloads" in page
    assert "Try again in 1 second," in page
    assert download_url(data_file) in links(page)


def test_429_quota_exceeded_points_to_the_account_page(client, stored_file):
    data_file = stored_file()
    user = UserFactory()
    QuotaFactory(user=user, max_quota=1, current_quota=1)
    client.force_login(user)

    page = page_of(client.get(download_url(data_file), **BROWSER), 429)

    assert "quota" in page
    assert "/account" in links(page)
    assert "Try again in" not in page  # no time to give: the quota waits for a reset


def test_429_quota_exceeded_asks_an_anonymous_visitor_to_log_in(client, stored_file):
    data_file = stored_file()
    defaults = QuotaDefaults.current()
    defaults.max_quota = 0
    defaults.save()

    page = page_of(client.get(download_url(data_file), **BROWSER), 429)

    assert f"/accounts/login/?next={quote(download_url(data_file))}" in links(page)


def test_a_refused_post_gives_the_time_to_try_again_but_no_link(client, settings):
    """A link would GET what was POSTed: the token endpoint, throttled, gives only the time."""
    settings.LOGIN_FAILURES_PER_ACCOUNT = 1
    user = UserFactory()
    fields = {"grant_type": "password", "username": user.email, "password": "wrong"}
    post_form(client, "/api/v1/rs-authentication/oauth/token", fields, **BROWSER)

    response = post_form(client, "/api/v1/rs-authentication/oauth/token", fields, **BROWSER)

    page = page_of(response, 429)
    assert f"Try again in {response['Retry-After']} seconds" in page
    assert "try again</a>" not in page
