"""Login abuse (issue 15, item 5): the token endpoint tells no one which accounts exist, and
failed logins are throttled per account and per client address, in the database."""

from collections import Counter
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from regards_catalog.models import LoginFailureCount
from tests.factories import UserFactory
from tests.helpers import CountingPasswordHasher, assert_api_error, in_threads

TOKEN_URL = "/api/v1/rs-authentication/oauth/token"
LOGIN_PAGE = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
EMAIL, PASSWORD = "alice@example.org", "secret-password"
PER_ACCOUNT, PER_ADDRESS, WINDOW = 3, 5, 600


@pytest.fixture
def hashed(settings):
    """The passwords hashed since the test began (or since `hashed.clear()`)."""
    settings.PASSWORD_HASHERS = ["tests.helpers.CountingPasswordHasher"]
    CountingPasswordHasher.hashed.clear()
    return CountingPasswordHasher.hashed


@pytest.fixture
def limits(settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT = PER_ACCOUNT
    settings.LOGIN_FAILURES_PER_ADDRESS = PER_ADDRESS
    settings.LOGIN_THROTTLE_SECONDS = WINDOW


@pytest.fixture
def alice(hashed):
    user = UserFactory(email=EMAIL, username=EMAIL, password=PASSWORD)
    hashed.clear()  # the factory's own hashing
    return user


@pytest.fixture
def clock(monkeypatch):
    """clock.advance(seconds) moves the time django.utils.timezone.now() tells."""

    class Clock:
        offset = timedelta()

        def advance(self, seconds):
            self.offset += timedelta(seconds=seconds)

    clock, real_now = Clock(), timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + clock.offset)
    return clock


def login(client=None, *, email=EMAIL, password=PASSWORD, address="198.51.100.1"):
    client = client or APIClient()
    body = {"grant_type": "password", "username": email, "password": password}
    return client.post(TOKEN_URL, body, format="json", REMOTE_ADDR=address)


def fail(times, **fields):
    """`times` logins with a wrong password, each refused as an invalid grant."""
    for _ in range(times):
        assert_api_error(login(password="wrong-password", **fields), 400, "invalid_grant")


def assert_throttled(response):
    """A 429 saying when to retry, in the header and in the body; returns the seconds."""
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= WINDOW
    assert_api_error(response, 429, "too_many_login_attempts", retryAfter=retry_after)
    return retry_after


def account_failures(email=EMAIL):
    counter = LoginFailureCount.objects.filter(kind="account", key=email.lower()).first()
    return counter.failures if counter else 0


# The same answer, after the same work, whether the account exists or not


@pytest.mark.django_db
def test_an_unknown_email_is_answered_as_a_wrong_password_after_the_same_hashing(alice, hashed):
    UserFactory(email="bob@example.org", password=PASSWORD, is_active=False)
    hashed.clear()
    answers = {}
    for case, fields in {
        "wrong password": {"password": "guess-1"},
        "unknown email": {"email": "nobody@example.org", "password": "guess-2"},
        "inactive user": {"email": "bob@example.org", "password": "guess-3"},
        "inactive user, right password": {"email": "bob@example.org", "password": PASSWORD},
    }.items():
        response = login(**fields)

        assert hashed == [fields["password"]], case  # hashed once, as a check would
        answers[case] = (response.status_code, dict(response.headers), response.content)
        hashed.clear()
    assert_api_error(login(password="guess-4"), 400, "invalid_grant")
    assert len({repr(answer) for answer in answers.values()}) == 1, answers
    assert not AuthToken.objects.exists()


# Throttling


@pytest.mark.django_db
@pytest.mark.parametrize("email", [EMAIL, "nobody@example.org"], ids=["known", "unknown"])
def test_failures_of_one_account_are_limited_across_addresses(alice, limits, email):
    for number in range(PER_ACCOUNT):
        fail(1, email=email, address=f"198.51.100.{number}")

    assert_throttled(login(email=email, password="wrong-password", address="203.0.113.9"))
    # An unknown email is locked the same way: the lockout tells nothing either.


@pytest.mark.django_db
def test_failures_sent_in_the_query_string_are_limited_with_the_others(alice, limits, hashed):
    """The REGARDS frontend sends its credentials in the query string, with a `{}` body."""
    fail(PER_ACCOUNT - 1)
    query = urlencode({"username": EMAIL, "password": "wrong-password", "scope": "regards"})
    url = f"{TOKEN_URL}?{query}"
    client = APIClient()

    wrong = client.post(url, "{}", content_type="application/json", REMOTE_ADDR="198.51.100.1")
    assert_api_error(wrong, 400, "invalid_grant")
    hashed.clear()
    right = url.replace("wrong-password", PASSWORD)
    throttled = client.post(right, "{}", content_type="application/json")

    assert_throttled(throttled)
    assert hashed == []  # refused without checking the password
    assert not AuthToken.objects.exists()


@pytest.mark.django_db
def test_the_account_is_the_email_in_any_case(alice, limits):
    fail(1, email="ALICE@EXAMPLE.ORG")
    fail(1, email="Alice@Example.org")
    fail(1, email=EMAIL)

    assert_throttled(login(email="aLiCe@example.org"))


@pytest.mark.django_db
def test_an_email_longer_in_lower_case_is_still_an_invalid_grant(limits):
    fail(PER_ACCOUNT, email="\u0130" * 254)  # "İ" is two characters in lower case

    assert_throttled(login(email="\u0130" * 254))


@pytest.mark.django_db
def test_failures_from_one_address_are_limited_across_accounts(alice, limits):
    for number in range(PER_ADDRESS):
        fail(1, email=f"user{number}@example.org", address="203.0.113.9")

    assert_throttled(login(address="203.0.113.9"))
    assert login(address="203.0.113.10").status_code == 200
    assert account_failures() == 0  # the throttled attempt was no failure of alice's


@pytest.mark.django_db
def test_during_a_lockout_the_right_password_is_not_even_checked(alice, limits, hashed):
    fail(PER_ACCOUNT)
    hashed.clear()

    assert_throttled(login())

    assert hashed == []
    assert not AuthToken.objects.exists()
    assert account_failures() == PER_ACCOUNT


@pytest.mark.django_db
def test_successful_logins_do_not_count(alice, limits):
    for _ in range(2 * PER_ACCOUNT):
        assert login().status_code == 200

    fail(PER_ACCOUNT)
    assert account_failures() == PER_ACCOUNT


@pytest.mark.django_db
def test_a_success_does_not_clear_the_failures_before_it(alice, limits):
    """Else a guesser would start afresh each time the owner's scripts log in."""
    fail(PER_ACCOUNT - 1)
    assert login().status_code == 200
    fail(1)

    assert_throttled(login())


@pytest.mark.django_db
def test_after_the_window_the_account_logs_in_again_and_old_counts_go(alice, limits, clock):
    fail(PER_ACCOUNT)
    retry_after = assert_throttled(login())

    clock.advance(retry_after - 1)
    assert_throttled(login())
    clock.advance(1)
    response = login()

    assert response.status_code == 200
    assert response.json()["access_token"]
    current = LoginFailureCount.objects.values_list("window", flat=True)
    assert all(window > timezone.now() - timedelta(seconds=WINDOW) for window in current)


@pytest.mark.django_db(transaction=True)
def test_parallel_failures_are_counted_exactly(alice, limits, hashed):
    attempts = 12

    answers = in_threads(
        attempts, lambda i: login(password=f"guess-{i}", address=f"198.51.100.{i}").status_code
    )

    assert Counter(answers) == {400: PER_ACCOUNT, 429: attempts - PER_ACCOUNT}
    assert len(hashed) == PER_ACCOUNT  # the refused ones checked nothing
    assert account_failures() == PER_ACCOUNT


@pytest.mark.django_db(transaction=True)
def test_parallel_logins_of_one_address_are_counted_exactly(alice, limits, hashed):
    attempts = 12

    answers = in_threads(
        attempts,
        lambda i: login(email=f"user{i}@example.org", address="203.0.113.9").status_code,
    )

    assert Counter(answers) == {400: PER_ADDRESS, 429: attempts - PER_ADDRESS}
    assert len(hashed) == PER_ADDRESS
    counter = LoginFailureCount.objects.get(kind="address", key="203.0.113.9")
    assert counter.failures == PER_ADDRESS


# The session login pages: the same throttle, the same counters


@pytest.mark.django_db
def test_the_login_page_is_throttled_with_the_api(client, alice, limits, hashed):
    fail(PER_ACCOUNT - 1)
    page = client.post(LOGIN_PAGE, {"username": EMAIL, "password": "wrong"})
    assert page.status_code == 200  # the form again, with its error
    hashed.clear()

    refused = client.post(LOGIN_PAGE, {"username": EMAIL, "password": PASSWORD})

    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= WINDOW
    assert "Too many failed logins" in refused.content.decode()
    assert hashed == []
    assert "_auth_user_id" not in client.session
    assert_throttled(login())  # and the page's failure counted for the API


@pytest.mark.django_db
def test_the_login_page_still_logs_in_under_the_limit(client, alice, limits):
    fail(PER_ACCOUNT - 1)

    response = client.post(LOGIN_PAGE, {"username": EMAIL, "password": PASSWORD})

    assert (response.status_code, response["Location"]) == (302, "/account")
    assert account_failures() == PER_ACCOUNT - 1


@pytest.mark.django_db
def test_the_admin_login_page_is_throttled_too(client, limits, hashed):
    UserFactory(email=EMAIL, username=EMAIL, password=PASSWORD, steward=True)
    fail(PER_ACCOUNT)
    hashed.clear()

    page = client.post(ADMIN_LOGIN, {"username": EMAIL, "password": PASSWORD})

    assert "Too many failed logins" in page.content.decode()
    assert hashed == []
    assert "_auth_user_id" not in client.session
