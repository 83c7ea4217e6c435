import pytest
from rest_framework.test import APIClient

from regards_catalog.auth import issue_token

pytest_plugins = ["tests.nginx"]


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
