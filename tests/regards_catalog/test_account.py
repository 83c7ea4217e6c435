"""The account page: a person logged in with a browser sees their quota and licences, and
gets an API token for scripts."""

import re

import pytest
from django.test import Client
from knox.auth import TokenAuthentication

from downloads.services import license_accept
from tests.factories import AccessGroupFactory, LicenseFactory, QuotaFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_an_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get("/account")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/account")


def test_logging_in_leads_to_the_account_page(client):
    UserFactory(email="ana@example.org", password="a-long-password")

    response = client.post(
        "/accounts/login/", {"username": "ana@example.org", "password": "a-long-password"}
    )

    assert (response.status_code, response["Location"]) == (302, "/account")


def test_the_page_shows_groups_quota_and_licenses(client):
    user = UserFactory(email="ana@example.org")
    AccessGroupFactory(name="science", members=[user])
    QuotaFactory(user=user, max_quota=10, current_quota=3)
    accepted, pending = LicenseFactory(title="Open terms"), LicenseFactory(title="Strict terms")
    license_accept(user=user, license=accepted)
    client.force_login(user)

    page = client.get("/account").content.decode()

    assert "ana@example.org" in page and "science" in page
    assert re.search(r'<th scope="row">downloads</th><td>3</td><td>10</td>', page)
    assert re.search(r"Open terms</a> \(version 1\):\s+accepted", page)
    assert re.search(r"Strict terms</a> \(version 1\):\s+not accepted", page)
    assert pending.title in page


def test_the_button_issues_a_token_that_works_on_the_api(client):
    user = UserFactory()
    client.force_login(user)

    page = client.post("/account").content.decode()

    token = re.search(r"<pre>([0-9a-f]+)</pre>", page)[1]
    assert TokenAuthentication().authenticate_credentials(token.encode())[0] == user


def test_issuing_a_token_needs_the_csrf_token():
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(UserFactory())

    assert browser.post("/account").status_code == 403
