"""Dataset licences: check 6 of the download (SPEC §4), the licence API and HTML page."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.db.models import F
from django.test import Client
from rest_framework.test import APIClient

from downloads.models import DownloadRecord, LicenseAcceptance
from products.models import AccessRight, DataFile, License
from tests.factories import LicenseAcceptanceFactory, LicenseFactory, UserFactory
from tests.helpers import assert_api_error, body_of, download_url

pytestmark = pytest.mark.django_db

BASE = "https://catalog.example.org"
LICENSE_FIELDS = {"id", "title", "url", "text", "version", "accepted"}


@pytest.fixture(autouse=True)
def public_base_url(settings):
    settings.PUBLIC_BASE_URL = BASE


@pytest.fixture
def licensed_file(stored_file):
    """licensed_file(content, **fields) → a file of a dataset under a fresh licence, which the
    public group (so every caller) may see and download."""

    def make(content=b"licensed bytes\n", **fields):
        data_file = stored_file(content, **fields)
        dataset = data_file.product.dataset
        dataset.license = LicenseFactory(text="Cite the mission.\nDo not resell.")
        dataset.save()
        return data_file

    return make


def license_of(data_file):
    return data_file.product.dataset.license


def bump_version(license):
    """What a steward publishing a new version does."""
    License.objects.filter(pk=license.pk).update(version=F("version") + 1)
    license.refresh_from_db()


def list_licenses(client):
    response = client.get("/api/v1/rs-catalog/licenses")
    assert response.status_code == 200
    return {entry["id"]: entry for entry in response.json()}


# Check 6 of the download.


def test_a_private_file_of_a_licensed_dataset_needs_the_license_accepted(licensed_file, client_for):
    data_file = licensed_file()
    license = license_of(data_file)

    response = client_for(UserFactory()).get(download_url(data_file))

    assert_api_error(
        response,
        423,
        "license_not_accepted",
        license=f"{BASE}/licenses/{license.slug}",
        accept=f"{BASE}{download_url(data_file)}?acceptLicense=true",
    )
    assert not LicenseAcceptance.objects.exists()
    assert not DownloadRecord.objects.exists()


def test_the_license_link_of_a_423_is_the_license_html_page(licensed_file, client_for, client):
    data_file = licensed_file()
    body = client_for(UserFactory()).get(download_url(data_file)).json()

    page = client.get(urlsplit(body["license"]).path)

    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    assert license_of(data_file).title in page.content.decode()


def test_the_accept_link_keeps_the_query_but_never_the_token(licensed_file, api_client, token_for):
    data_file = licensed_file()
    token = token_for(UserFactory())

    response = api_client.get(download_url(data_file, token=token, isContentInline="true"))

    accept = urlsplit(assert_api_error(response, 423, "license_not_accepted")["accept"])
    assert "token=" not in accept.query
    assert token not in response.content.decode()
    assert f"{accept.scheme}://{accept.netloc}{accept.path}" == BASE + download_url(data_file)
    assert parse_qs(accept.query) == {"isContentInline": ["true"], "acceptLicense": ["true"]}


def test_accept_license_true_records_the_acceptance_and_downloads(licensed_file, client_for):
    content = b"the licensed payload\n"
    data_file = licensed_file(content)
    user = UserFactory()

    response = client_for(user).get(download_url(data_file, acceptLicense="true"))

    assert response.status_code == 200
    assert body_of(response) == content
    acceptance = LicenseAcceptance.objects.get()
    assert (acceptance.user, acceptance.license, acceptance.version) == (
        user,
        license_of(data_file),
        1,
    )


def test_once_accepted_the_license_is_not_asked_again(licensed_file, client_for):
    data_file = licensed_file()
    client = client_for(UserFactory())
    body_of(client.get(download_url(data_file, acceptLicense="true")))

    response = client.get(download_url(data_file))

    assert response.status_code == 200
    body_of(response)
    assert LicenseAcceptance.objects.count() == 1


def test_the_acceptance_of_one_user_does_not_serve_another(licensed_file, client_for):
    data_file = licensed_file()
    body_of(client_for(UserFactory()).get(download_url(data_file, acceptLicense="true")))

    response = client_for(UserFactory()).get(download_url(data_file))

    assert_api_error(response, 423, "license_not_accepted")


def test_accept_license_with_a_query_token_records_the_acceptance(
    licensed_file, api_client, token_for
):
    data_file = licensed_file()
    user = UserFactory()

    response = api_client.get(download_url(data_file, token=token_for(user), acceptLicense="true"))

    assert response.status_code == 200
    body_of(response)
    assert LicenseAcceptance.objects.filter(user=user, version=1).count() == 1


@pytest.fixture
def browser():
    """A person logged in by session in a browser (CSRF enforced, as in real life)."""
    client = Client(enforce_csrf_checks=True)
    user = UserFactory()
    client.force_login(user)
    return client, user


def test_accept_license_true_on_a_session_records_nothing(licensed_file, browser):
    """A cross-site page could link to it: a session must accept through the licence page."""
    client, user = browser
    data_file = licensed_file()

    response = client.get(download_url(data_file, acceptLicense="true", isContentInline="true"))

    body = assert_api_error(response, 423, "license_not_accepted")
    accept = urlsplit(body["accept"])
    assert accept.path == f"/licenses/{license_of(data_file).slug}"
    assert parse_qs(accept.query) == {"next": [download_url(data_file, isContentInline="true")]}
    assert not LicenseAcceptance.objects.exists()
    assert not DownloadRecord.objects.exists()


def test_a_browser_session_accepts_on_the_licence_page_then_downloads(licensed_file, browser):
    client, user = browser
    content = b"licensed through the page\n"
    data_file = licensed_file(content)

    page = client.get(download_url(data_file, acceptLicense="true"), HTTP_ACCEPT="text/html")
    assert page.status_code == 423
    assert page["Content-Type"].startswith("text/html")
    assert not LicenseAcceptance.objects.exists()
    accept_link = urlsplit(
        assert_api_error(client.get(download_url(data_file)), 423, "license_not_accepted")["accept"]
    )
    assert accept_link.geturl() in page.content.decode().replace("&amp;", "&")

    license_page = client.get(f"{accept_link.path}?{accept_link.query}")
    assert license_page.status_code == 200
    accepted = client.post(
        f"{accept_link.path}?{accept_link.query}",
        {"csrfmiddlewaretoken": license_page.context["csrf_token"]},
    )
    assert accepted.status_code == 302  # back to the download, which starts
    assert accepted["Location"] == download_url(data_file)
    assert LicenseAcceptance.objects.filter(user=user).count() == 1

    assert body_of(client.get(download_url(data_file))) == content


def test_a_bearer_token_beside_a_session_still_accepts(licensed_file, token_for):
    data_file = licensed_file()
    user = UserFactory()
    client = APIClient()
    client.force_login(user)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")

    response = client.get(download_url(data_file, acceptLicense="true"))

    assert response.status_code == 200
    body_of(response)
    assert LicenseAcceptance.objects.filter(user=user).count() == 1


def test_accept_license_other_than_true_does_not_accept(licensed_file, client_for):
    data_file = licensed_file()

    response = client_for(UserFactory()).get(download_url(data_file, acceptLicense="yes"))

    assert_api_error(response, 423, "license_not_accepted")
    assert not LicenseAcceptance.objects.exists()


def test_head_of_a_licensed_file_answers_423_too(licensed_file, client_for):
    data_file = licensed_file()

    response = client_for(UserFactory()).head(download_url(data_file))

    assert response.status_code == 423


def test_an_anonymous_caller_can_never_accept_a_license(licensed_file, api_client):
    data_file = licensed_file()

    for url in (download_url(data_file), download_url(data_file, acceptLicense="true")):
        response = api_client.get(url)
        assert_api_error(
            response,
            423,
            "license_not_accepted",
            license=f"{BASE}/licenses/{license_of(data_file).slug}",
        )

    assert not LicenseAcceptance.objects.exists()
    assert not DownloadRecord.objects.exists()


def test_file_access_is_checked_before_the_license(licensed_file, client_for):
    data_file = licensed_file(file_access=AccessRight.FileAccess.NO_ACCESS)

    response = client_for(UserFactory()).get(download_url(data_file, acceptLicense="true"))

    assert_api_error(response, 403, "forbidden")
    assert not LicenseAcceptance.objects.exists()


@pytest.mark.parametrize("data_type", [DataFile.DataType.QUICKLOOK_SD, DataFile.DataType.THUMBNAIL])
@pytest.mark.parametrize("anonymous", [True, False], ids=["anonymous", "user"])
def test_public_file_types_of_a_licensed_dataset_need_no_acceptance(
    licensed_file, api_client, client_for, data_type, anonymous
):
    content = b"\x89PNG quicklook\n"
    data_file = licensed_file(content, data_type=data_type, mime_type="image/png")
    client = api_client if anonymous else client_for(UserFactory())

    response = client.get(download_url(data_file))

    assert response.status_code == 200
    assert body_of(response) == content
    assert not LicenseAcceptance.objects.exists()


@pytest.mark.parametrize("anonymous", [True, False], ids=["anonymous", "user"])
def test_a_dataset_without_license_needs_no_acceptance(
    stored_file, api_client, client_for, anonymous
):
    content = b"free data\n"
    data_file = stored_file(content)
    client = api_client if anonymous else client_for(UserFactory())

    response = client.get(download_url(data_file))

    assert response.status_code == 200
    assert body_of(response) == content
    assert not LicenseAcceptance.objects.exists()


def test_a_new_license_version_forces_acceptance_again(licensed_file, client_for):
    data_file = licensed_file()
    user = UserFactory()
    client = client_for(user)
    body_of(client.get(download_url(data_file, acceptLicense="true")))
    license = license_of(data_file)
    assert list_licenses(client)[license.slug]["accepted"] is True

    bump_version(license)

    response = client.get(download_url(data_file))
    assert_api_error(response, 423, "license_not_accepted")
    assert list_licenses(client)[license.slug]["accepted"] is False
    assert client.get(f"/api/v1/rs-catalog/licenses/{license.slug}").json()["accepted"] is False

    response = client.get(download_url(data_file, acceptLicense="true"))
    assert response.status_code == 200
    body_of(response)
    versions = LicenseAcceptance.objects.filter(user=user, license=license).values_list(
        "version", flat=True
    )
    assert sorted(versions) == [1, 2]


# The licence API.


def test_the_license_list_says_what_each_caller_accepted(
    licensed_file, api_client, client_for, token_for
):
    accepted_one = license_of(licensed_file())
    other = LicenseFactory()
    user = UserFactory()
    LicenseAcceptanceFactory(user=user, license=accepted_one, version=1)

    mine = list_licenses(client_for(user))
    theirs = list_licenses(client_for(UserFactory()))
    anonymous = list_licenses(api_client)

    assert set(mine) == {accepted_one.slug, other.slug}
    assert all(set(entry) == LICENSE_FIELDS for entry in mine.values())
    assert mine[accepted_one.slug]["accepted"] is True
    assert mine[other.slug]["accepted"] is False
    assert {slug: entry["accepted"] for slug, entry in theirs.items()} == {
        accepted_one.slug: False,
        other.slug: False,
    }
    assert {slug: entry["accepted"] for slug, entry in anonymous.items()} == {
        accepted_one.slug: False,
        other.slug: False,
    }


def test_the_license_list_is_empty_without_licenses(api_client):
    response = api_client.get("/api/v1/rs-catalog/licenses")
    assert response.status_code == 200
    assert response.json() == []


def test_a_license_is_served_by_its_id(api_client, client_for):
    license = LicenseFactory(slug="cc-by-4.0", title="CC BY 4.0", text="Attribute.", version=3)
    user = UserFactory()
    LicenseAcceptanceFactory(user=user, license=license, version=3)

    response = api_client.get("/api/v1/rs-catalog/licenses/cc-by-4.0")

    assert response.status_code == 200
    assert response.json() == {
        "id": "cc-by-4.0",
        "title": "CC BY 4.0",
        "url": license.url,
        "text": "Attribute.",
        "version": 3,
        "accepted": False,
    }
    mine = client_for(user).get("/api/v1/rs-catalog/licenses/cc-by-4.0").json()
    assert mine["accepted"] is True


def test_an_older_version_accepted_is_not_accepted(client_for):
    license = LicenseFactory(version=2)
    user = UserFactory()
    LicenseAcceptanceFactory(user=user, license=license, version=1)

    response = client_for(user).get(f"/api/v1/rs-catalog/licenses/{license.slug}")

    assert response.json()["accepted"] is False


def test_an_unknown_license_is_404_json(api_client):
    response = api_client.get("/api/v1/rs-catalog/licenses/no-such-licence")
    assert_api_error(response, 404, "not_found")


def test_accepting_a_license_records_its_current_version(client_for):
    license = LicenseFactory(version=4)
    user = UserFactory()

    response = client_for(user).post(f"/api/v1/rs-catalog/licenses/{license.slug}/accept")

    assert response.status_code == 200
    assert response.json()["accepted"] is True
    assert response.json()["version"] == 4
    acceptance = LicenseAcceptance.objects.get()
    assert (acceptance.user, acceptance.license, acceptance.version) == (user, license, 4)


def test_accepting_a_license_twice_records_it_once(client_for):
    license = LicenseFactory()
    client = client_for(UserFactory())
    url = f"/api/v1/rs-catalog/licenses/{license.slug}/accept"

    first, second = client.post(url), client.post(url)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["accepted"] is True
    assert LicenseAcceptance.objects.count() == 1


def test_accepting_through_the_api_opens_the_download(licensed_file, client_for):
    content = b"accepted via the API\n"
    data_file = licensed_file(content)
    client = client_for(UserFactory())

    client.post(f"/api/v1/rs-catalog/licenses/{license_of(data_file).slug}/accept")

    response = client.get(download_url(data_file))
    assert response.status_code == 200
    assert body_of(response) == content


def test_an_anonymous_caller_cannot_accept_through_the_api(api_client):
    license = LicenseFactory()

    response = api_client.post(f"/api/v1/rs-catalog/licenses/{license.slug}/accept")

    assert_api_error(response, 401, "authentication_required")
    assert not LicenseAcceptance.objects.exists()


def test_accepting_an_unknown_license_is_404_json(client_for):
    response = client_for(UserFactory()).post("/api/v1/rs-catalog/licenses/nothing-here/accept")
    assert_api_error(response, 404, "not_found")
    assert not LicenseAcceptance.objects.exists()


# The HTML page.


def test_the_license_page_offers_a_logged_in_user_an_accept_button(client):
    license = LicenseFactory(title="Sentinel Data Licence", text="Cite the mission.", version=2)
    client.force_login(UserFactory())

    response = client.get(f"/licenses/{license.slug}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "Sentinel Data Licence" in html
    assert "Cite the mission." in html
    assert "Version 2" in html
    assert '<form method="post">' in html
    assert "Accept</button>" in html
    assert "/accounts/login/" not in html


def test_posting_the_license_page_records_the_acceptance(client):
    license = LicenseFactory(version=2)
    user = UserFactory()
    client.force_login(user)

    response = client.post(f"/licenses/{license.slug}")

    assert response.status_code == 200
    html = response.content.decode()
    assert "You have accepted version 2" in html
    assert "Accept</button>" not in html
    acceptance = LicenseAcceptance.objects.get()
    assert (acceptance.user, acceptance.license, acceptance.version) == (user, license, 2)

    client.post(f"/licenses/{license.slug}")
    assert LicenseAcceptance.objects.count() == 1


def test_after_a_new_version_the_license_page_asks_again(client):
    license = LicenseFactory()
    user = UserFactory()
    LicenseAcceptanceFactory(user=user, license=license, version=1)
    client.force_login(user)
    bump_version(license)

    html = client.get(f"/licenses/{license.slug}").content.decode()

    assert "Accept</button>" in html
    assert "You have accepted" not in html


def test_the_license_page_sends_an_anonymous_visitor_to_log_in(client):
    license = LicenseFactory(text="Cite the mission.")

    response = client.get(f"/licenses/{license.slug}")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Cite the mission." in html
    assert 'href="/accounts/login/?next=' in html
    assert f"/licenses/{license.slug}" in html.split('href="/accounts/login/?next=')[1]
    assert "Accept</button>" not in html


def test_an_anonymous_post_of_the_license_page_records_nothing(client):
    license = LicenseFactory()

    response = client.post(f"/licenses/{license.slug}")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert not LicenseAcceptance.objects.exists()


def test_the_login_page_linked_from_the_license_page_exists(client):
    assert client.get("/accounts/login/").status_code == 200


def test_an_unknown_license_page_is_404(client):
    response = client.get("/licenses/no-such-licence", HTTP_ACCEPT="text/html")
    assert response.status_code == 404


@pytest.fixture
def user_with_session_csrf():
    """A browser-like client (CSRF enforced) logged in by session, and a licence."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory())
    return client, LicenseFactory()


def test_the_license_page_refuses_a_post_without_csrf_token(user_with_session_csrf):
    client, license = user_with_session_csrf

    response = client.post(f"/licenses/{license.slug}")

    assert response.status_code == 403
    assert not LicenseAcceptance.objects.exists()


def test_the_license_page_accepts_a_post_with_its_csrf_token(user_with_session_csrf):
    client, license = user_with_session_csrf
    page = client.get(f"/licenses/{license.slug}")
    token = page.context["csrf_token"]

    response = client.post(f"/licenses/{license.slug}", {"csrfmiddlewaretoken": token})

    assert response.status_code == 200
    assert LicenseAcceptance.objects.count() == 1


def test_the_license_page_links_on_to_a_download_on_this_site(client):
    license = LicenseFactory()
    user = UserFactory()
    LicenseAcceptanceFactory(user=user, license=license, version=1)
    client.force_login(user)
    next_url = "/api/v1/rs-catalog/downloads/x/files/abc"

    html = client.get(f"/licenses/{license.slug}", {"next": next_url}).content.decode()

    assert f'href="{next_url}"' in html


@pytest.mark.parametrize(
    "next_url",
    ["javascript:alert(document.cookie)", "https://evil.example.org/phish", "//evil.example.org/"],
)
def test_the_license_page_never_links_on_to_another_site_or_a_script(client, next_url):
    license = LicenseFactory()
    user = UserFactory()
    LicenseAcceptanceFactory(user=user, license=license, version=1)
    client.force_login(user)

    response = client.get(f"/licenses/{license.slug}", {"next": next_url})

    assert response.status_code == 200
    html = response.content.decode()
    assert "You have accepted" in html
    assert "evil.example.org" not in html
    assert "javascript:" not in html
