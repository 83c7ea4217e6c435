import pytest
from rest_framework.test import APIClient

from downloads.quotas import slot_keeper
from regards_catalog.auth import issue_token
from tests.factories import UserFactory

pytest_plugins = ["tests.processes", "tests.nginx"]


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def token_for(db):
    """token_for(user) → a fresh API token string for that user."""

    def make(user):
        return issue_token(user)[0]

    return make


@pytest.fixture
def client_for(token_for):
    """client_for(user) → an APIClient sending that user's Bearer token."""

    def make(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
        return client

    return make


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2 costs ~0.5 s per user; tests need hashing to work, not to be slow."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def no_slot_kept_alive():
    """The process-wide slot keeper must not go on renewing a finished test's slots (its
    thread would reach for a database that pytest has dropped)."""
    yield
    with slot_keeper.lock:
        slot_keeper.held.clear()


@pytest.fixture
def steward(client):
    """A data steward (staff, in the stewards group, not a superuser), logged in `client`."""
    user = UserFactory(steward=True)
    assert not user.is_superuser
    client.force_login(user)
    return user
