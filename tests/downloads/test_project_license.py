"""The project licence (REGARDS rs-admin LicenseController): one licence a steward marks as
the project's, which every private download needs accepted besides its dataset's."""

from urllib.parse import urlsplit

import pytest
from django.db import IntegrityError, transaction

from downloads.models import DownloadRecord, LicenseAcceptance
from products.models import License
from tests.factories import LicenseAcceptanceFactory, LicenseFactory, UserFactory
from tests.helpers import assert_api_error, body_of, download_url

pytestmark = pytest.mark.django_db

BASE = "https://catalog.example.org"
PATHS = ["/api/v1/rs-admin/license", "/api/v1/rs-admin-public/license"]
LICENSE = PATHS[0]


@pytest.fixture(autouse=True)
def public_base_url(settings):
    settings.PUBLIC_BASE_URL = BASE


@pytest.fixture
def project_license():
    return LicenseFactory(slug="project", title="Project terms", project=True)


@pytest.fixture
def steward_client(client_for):
    return client_for(UserFactory(steward=True))


def accepted_by(user, license):
    license.refresh_from_db()
    return LicenseAcceptance.objects.filter(
        user=user, license=license, version=license.version
    ).exists()


# GET, PUT and reset


@pytest.mark.parametrize("path", PATHS)
def test_without_a_project_license_there_is_nothing_to_accept(client_for, api_client, path):
    LicenseFactory()  # a dataset licence is no project licence

    for client in (client_for(UserFactory()), api_client):
        response = client.get(path)
        assert response.status_code == 200
        body = response.json()
        assert body["content"] == {"accepted": True, "licenseLink": None}
        assert {"rel": "self", "href": f"{BASE}{LICENSE}"} in body["links"]


@pytest.mark.parametrize("path", PATHS)
def test_a_user_accepts_the_project_license(client_for, project_license, path):
    user = UserFactory()
    client = client_for(user)

    before = client.get(path).json()
    assert before["content"] == {"accepted": False, "licenseLink": project_license.url}
    assert {"rel": "accept", "href": f"{BASE}{LICENSE}", "method": "PUT"} in before["links"]

    response = client.put(path)

    assert response.status_code == 200
    assert response.json()["content"] == {"accepted": True, "licenseLink": project_license.url}
    assert accepted_by(user, project_license)
    assert client.get(path).json()["content"]["accepted"] is True
    assert client.put(path).status_code == 200  # twice: still one acceptance
    assert LicenseAcceptance.objects.count() == 1


def test_a_license_without_url_links_to_its_page(client_for, client):
    license = LicenseFactory(slug="terms", url="", project=True)

    link = client_for(UserFactory()).get(LICENSE).json()["content"]["licenseLink"]

    assert link == f"{BASE}/licenses/{license.slug}"
    assert client.get(urlsplit(link).path).status_code == 200


def test_an_anonymous_caller_has_not_accepted_and_cannot_accept(api_client, project_license):
    body = api_client.get(LICENSE).json()
    assert body["content"] == {"accepted": False, "licenseLink": project_license.url}
    assert [link["rel"] for link in body["links"]] == ["self"]

    assert_api_error(api_client.put(LICENSE), 401, "authentication_required")
    assert not LicenseAcceptance.objects.exists()


def test_accepting_without_a_project_license_is_404(client_for):
    assert_api_error(client_for(UserFactory()).put(LICENSE), 404, "not_found")
    assert not LicenseAcceptance.objects.exists()


@pytest.mark.parametrize("path", PATHS)
def test_a_steward_reset_makes_everyone_accept_again(
    client_for, steward_client, project_license, path
):
    user = UserFactory()
    client = client_for(user)
    client.put(LICENSE)

    response = steward_client.put(f"{path}/reset")

    assert response.status_code == 200
    assert response.json()["content"]["accepted"] is False
    project_license.refresh_from_db()
    assert project_license.version == 2
    assert not accepted_by(user, project_license)
    assert client.get(LICENSE).json()["content"]["accepted"] is False
    client.put(LICENSE)
    assert accepted_by(user, project_license)


def test_a_steward_sees_the_reset_link(steward_client, client_for, project_license):
    links = steward_client.get(LICENSE).json()["links"]
    assert {"rel": "reset", "href": f"{BASE}{LICENSE}/reset", "method": "PUT"} in links
    links = client_for(UserFactory()).get(LICENSE).json()["links"]
    assert "reset" not in [link["rel"] for link in links]


def test_only_a_steward_may_reset(client_for, api_client, project_license):
    assert_api_error(client_for(UserFactory()).put(f"{LICENSE}/reset"), 403, "forbidden")
    assert_api_error(api_client.put(f"{LICENSE}/reset"), 401, "authentication_required")
    project_license.refresh_from_db()
    assert project_license.version == 1


def test_a_reset_without_a_project_license_is_404(steward_client):
    assert_api_error(steward_client.put(f"{LICENSE}/reset"), 404, "not_found")


def test_at_most_one_license_is_the_projects(project_license):
    with pytest.raises(IntegrityError), transaction.atomic():
        LicenseFactory(project=True)
    assert License.objects.filter(project=True).get() == project_license


# Downloads (check 6)


def test_a_private_download_needs_the_project_license(client_for, stored_file, project_license):
    data_file = stored_file(b"private bytes\n")
    user = UserFactory()
    client = client_for(user)

    response = client.get(download_url(data_file))

    assert_api_error(
        response,
        423,
        "license_not_accepted",
        license=f"{BASE}/licenses/{project_license.slug}",
        accept=f"{BASE}{download_url(data_file)}?acceptLicense=true",
        version=1,
    )
    assert not DownloadRecord.objects.exists()
    client.put(LICENSE)
    assert body_of(client.get(download_url(data_file))) == b"private bytes\n"


def test_public_file_types_need_no_project_license(api_client, stored_file, project_license):
    quicklook = stored_file(b"a quicklook\n", data_type="QUICKLOOK_SD")

    assert body_of(api_client.get(download_url(quicklook))) == b"a quicklook\n"


def test_an_anonymous_private_download_needs_a_logged_in_user(api_client, stored_file):
    LicenseFactory(project=True)
    data_file = stored_file()

    body = assert_api_error(api_client.get(download_url(data_file)), 423, "license_not_accepted")
    assert "logged-in" in body["message"]


def test_after_a_reset_downloads_need_the_license_again(
    client_for, steward_client, stored_file, project_license
):
    data_file = stored_file(b"bytes\n")
    client = client_for(UserFactory())
    client.put(LICENSE)
    assert body_of(client.get(download_url(data_file))) == b"bytes\n"

    steward_client.put(f"{LICENSE}/reset")

    body = assert_api_error(client.get(download_url(data_file)), 423, "license_not_accepted")
    assert body["version"] == 2


def test_the_project_license_comes_before_the_datasets(client_for, stored_file, project_license):
    data_file = stored_file(b"doubly licensed\n")
    dataset = data_file.product.dataset
    dataset.license = LicenseFactory(slug="dataset-terms")
    dataset.save()
    user = UserFactory()
    client = client_for(user)

    body = assert_api_error(client.get(download_url(data_file)), 423, "license_not_accepted")
    assert body["license"] == f"{BASE}/licenses/project"

    client.put(LICENSE)
    body = assert_api_error(client.get(download_url(data_file)), 423, "license_not_accepted")
    assert body["license"] == f"{BASE}/licenses/dataset-terms"

    client.post("/api/v1/rs-catalog/licenses/dataset-terms/accept")
    assert body_of(client.get(download_url(data_file))) == b"doubly licensed\n"


def test_accept_license_true_accepts_both_licenses(client_for, stored_file, project_license):
    data_file = stored_file(b"doubly licensed\n")
    dataset = data_file.product.dataset
    dataset.license = LicenseFactory(slug="dataset-terms")
    dataset.save()
    user = UserFactory()

    response = client_for(user).get(download_url(data_file, acceptLicense="true"))

    assert body_of(response) == b"doubly licensed\n"
    assert accepted_by(user, project_license)
    assert accepted_by(user, dataset.license)


def test_an_older_version_accepted_does_not_open_downloads(client_for, stored_file):
    license = LicenseFactory(project=True, version=3)
    user = UserFactory()
    LicenseAcceptanceFactory(user=user, license=license, version=2)
    data_file = stored_file()

    response = client_for(user).get(download_url(data_file))

    assert_api_error(response, 423, "license_not_accepted", version=3)


def test_unmarking_the_project_license_opens_downloads(client_for, stored_file, project_license):
    data_file = stored_file(b"bytes\n")
    client = client_for(UserFactory())
    assert_api_error(client.get(download_url(data_file)), 423, "license_not_accepted")

    License.objects.update(project=False)

    assert body_of(client.get(download_url(data_file))) == b"bytes\n"
