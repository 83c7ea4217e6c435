"""The REGARDS rs-storage quota API: the caller's usage, and stewards' per-user limits."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from downloads.models import Quota, QuotaDefaults
from tests.factories import QuotaFactory, RunningDownloadFactory, UserFactory
from tests.helpers import assert_api_error, body_of, download_url, running_downloads

pytestmark = pytest.mark.django_db

CURRENT = "/api/v1/rs-storage/quota/current"
CURRENT_FIELDS = {
    "email",
    "maxQuota",
    "rateLimit",
    "currentQuota",
    "currentRate",
    "maxVolume",
    "currentVolume",
    "since",
}
LIMIT_FIELDS = {"email", "maxQuota", "rateLimit", "maxVolume"}


def user_url(email):
    return f"/api/v1/rs-storage/quota/{email}"


def set_defaults(*, max_quota=-1, rate_limit=-1, max_volume=-1):
    QuotaDefaults.objects.update_or_create(
        pk=1,
        defaults={"max_quota": max_quota, "rate_limit": rate_limit, "max_volume": max_volume},
    )


@pytest.fixture
def steward_client(client_for):
    return client_for(UserFactory(steward=True))


# GET /quota/current


def test_current_quota_of_a_user_has_exactly_the_regards_fields(client_for):
    set_defaults(max_quota=100, rate_limit=5, max_volume=10**9)
    user = UserFactory()

    response = client_for(user).get(CURRENT)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == CURRENT_FIELDS
    assert {name: body[name] for name in CURRENT_FIELDS - {"since"}} == {
        "email": user.email,
        "maxQuota": 100,
        "rateLimit": 5,
        "maxVolume": 10**9,
        "currentQuota": 0,
        "currentRate": 0,
        "currentVolume": 0,
    }
    since = datetime.fromisoformat(body["since"].replace("Z", "+00:00"))
    assert abs(since - timezone.now()) < timedelta(minutes=1)


def test_current_quota_shows_the_users_own_limits_and_usage(client_for, stored_file):
    content = b"some private bytes\n"
    data_file = stored_file(content)
    user = UserFactory()
    client = client_for(user)
    QuotaFactory(user=user, max_quota=7, rate_limit=3, max_volume=1000)
    body_of(client.get(download_url(data_file)))
    quota = Quota.objects.get(user=user)
    RunningDownloadFactory(quota=quota, seconds_left=60)
    RunningDownloadFactory(quota=quota, seconds_left=-1)

    body = client.get(CURRENT).json()

    assert body["maxQuota"] == 7
    assert body["rateLimit"] == 3
    assert body["maxVolume"] == 1000
    assert body["currentQuota"] == 1
    assert body["currentVolume"] == len(content)
    assert body["currentRate"] == 1  # the expired slot is no longer a download


def test_current_quota_of_an_anonymous_caller_has_a_null_email(api_client):
    set_defaults(max_quota=10)

    response = api_client.get(CURRENT, REMOTE_ADDR="10.0.0.9")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == CURRENT_FIELDS
    assert body["email"] is None
    assert (body["maxQuota"], body["rateLimit"], body["maxVolume"]) == (10, -1, -1)
    assert (body["currentQuota"], body["currentRate"], body["currentVolume"]) == (0, 0, 0)


def test_current_quota_of_an_anonymous_caller_is_that_of_its_address(api_client, stored_file):
    content = b"anonymous bytes\n"
    data_file = stored_file(content)
    body_of(api_client.get(download_url(data_file), REMOTE_ADDR="10.0.0.1"))

    mine = api_client.get(CURRENT, REMOTE_ADDR="10.0.0.1").json()
    other = api_client.get(CURRENT, REMOTE_ADDR="10.0.0.2").json()

    assert (mine["currentQuota"], mine["currentVolume"]) == (1, len(content))
    assert (other["currentQuota"], other["currentVolume"]) == (0, 0)


def test_status_checks_use_no_quota(client_for, steward_client):
    user = UserFactory()
    QuotaFactory(user=user, max_quota=0, rate_limit=0, max_volume=0)
    client = client_for(user)

    for _ in range(3):
        assert client.get(CURRENT).status_code == 200
        assert steward_client.get(user_url(user.email)).status_code == 200

    quota = Quota.objects.get(user=user)
    assert (quota.current_quota, quota.current_volume) == (0, 0)
    assert not running_downloads().exists()


def test_a_bad_token_on_current_quota_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-token")
    assert_api_error(api_client.get(CURRENT), 401, "invalid_token")


# GET /quota/{email}


def test_a_steward_reads_a_users_limits(steward_client):
    set_defaults(max_quota=50, rate_limit=2, max_volume=-1)
    user = UserFactory()
    QuotaFactory(user=user, max_quota=9)

    response = steward_client.get(user_url(user.email))

    assert response.status_code == 200
    assert response.json() == {
        "email": user.email,
        "maxQuota": 9,
        "rateLimit": 2,
        "maxVolume": -1,
    }


def test_a_steward_reads_the_defaults_of_a_user_without_a_quota_yet(steward_client):
    set_defaults(max_quota=50, rate_limit=2, max_volume=4096)
    user = UserFactory()

    response = steward_client.get(user_url(user.email))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == LIMIT_FIELDS
    assert body == {"email": user.email, "maxQuota": 50, "rateLimit": 2, "maxVolume": 4096}


def test_a_superuser_may_read_and_set_limits(client_for):
    admin = client_for(UserFactory(is_superuser=True))
    user = UserFactory()

    assert admin.get(user_url(user.email)).status_code == 200
    response = admin.put(
        user_url(user.email),
        {"email": user.email, "maxQuota": 1, "rateLimit": 1},
        format="json",
    )
    assert response.status_code == 200


def test_an_unknown_email_is_404(steward_client):
    response = steward_client.get(user_url("nobody@example.org"))
    assert_api_error(response, 404, "not_found")

    response = steward_client.put(
        user_url("nobody@example.org"),
        {"email": "nobody@example.org", "maxQuota": 1, "rateLimit": 1},
        format="json",
    )
    assert_api_error(response, 404, "not_found")
    assert not Quota.objects.exists()


def test_a_normal_user_may_not_read_or_set_limits(client_for):
    user = UserFactory()
    client = client_for(user)

    assert_api_error(client.get(user_url(user.email)), 403, "forbidden")
    response = client.put(
        user_url(user.email),
        {"email": user.email, "maxQuota": -1, "rateLimit": -1, "maxVolume": -1},
        format="json",
    )
    assert_api_error(response, 403, "forbidden")
    assert not Quota.objects.filter(max_quota__isnull=False).exists()


def test_an_anonymous_caller_may_not_read_or_set_limits(api_client):
    user = UserFactory()

    response = api_client.get(user_url(user.email))
    assert_api_error(response, 401, "authentication_required")
    response = api_client.put(
        user_url(user.email), {"email": user.email, "maxQuota": 5, "rateLimit": 5}, format="json"
    )
    assert_api_error(response, 401, "authentication_required")
    assert not Quota.objects.filter(max_quota__isnull=False).exists()


# PUT /quota/{email}


def test_a_steward_sets_a_users_limits(steward_client):
    user = UserFactory()

    response = steward_client.put(
        user_url(user.email),
        {"email": user.email, "maxQuota": 12, "rateLimit": 3, "maxVolume": 5000},
        format="json",
    )

    assert response.status_code == 200
    assert response.json() == {
        "email": user.email,
        "maxQuota": 12,
        "rateLimit": 3,
        "maxVolume": 5000,
    }
    quota = Quota.objects.get(user=user)
    assert (quota.max_quota, quota.rate_limit, quota.max_volume) == (12, 3, 5000)
    assert steward_client.get(user_url(user.email)).json() == response.json()


def test_a_put_without_max_volume_keeps_it(steward_client):
    user = UserFactory()
    QuotaFactory(user=user, max_quota=1, rate_limit=1, max_volume=5000)

    response = steward_client.put(
        user_url(user.email), {"email": user.email, "maxQuota": 20, "rateLimit": 4}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == {
        "email": user.email,
        "maxQuota": 20,
        "rateLimit": 4,
        "maxVolume": 5000,
    }
    quota = Quota.objects.get(user=user)
    assert (quota.max_quota, quota.rate_limit, quota.max_volume) == (20, 4, 5000)


def test_a_put_does_not_touch_the_usage(steward_client):
    user = UserFactory()
    QuotaFactory(user=user, current_quota=4, current_volume=400)

    steward_client.put(
        user_url(user.email), {"email": user.email, "maxQuota": 20, "rateLimit": 4}, format="json"
    )

    quota = Quota.objects.get(user=user)
    assert (quota.current_quota, quota.current_volume) == (4, 400)


def test_limits_set_by_put_apply_to_the_next_download(steward_client, client_for, stored_file):
    data_file = stored_file()
    user = UserFactory()
    steward_client.put(
        user_url(user.email), {"email": user.email, "maxQuota": 0, "rateLimit": -1}, format="json"
    )

    response = client_for(user).get(download_url(data_file))

    assert_api_error(response, 429, "quota_exceeded")


def test_minus_one_is_accepted_as_unlimited(steward_client):
    user = UserFactory()

    response = steward_client.put(
        user_url(user.email),
        {"email": user.email, "maxQuota": -1, "rateLimit": -1, "maxVolume": -1},
        format="json",
    )

    assert response.status_code == 200
    quota = Quota.objects.get(user=user)
    assert (quota.max_quota, quota.rate_limit, quota.max_volume) == (-1, -1, -1)


@pytest.mark.parametrize("field", ["maxQuota", "rateLimit", "maxVolume"])
@pytest.mark.parametrize("value", [-2, -1000])
def test_a_limit_below_minus_one_is_400(steward_client, field, value):
    user = UserFactory()
    body = {"email": user.email, "maxQuota": 1, "rateLimit": 1, "maxVolume": 1, field: value}

    response = steward_client.put(user_url(user.email), body, format="json")

    assert_api_error(response, 400, "invalid_request")
    assert not Quota.objects.filter(max_quota__isnull=False).exists()


@pytest.mark.parametrize("field", ["maxQuota", "rateLimit", "maxVolume"])
@pytest.mark.parametrize("value", ["ten", 1.5, None, True, [], {}, 2**63, "9" * 400])
def test_a_limit_that_is_not_an_integer_in_range_is_400(steward_client, field, value):
    user = UserFactory()
    body = {"email": user.email, "maxQuota": 1, "rateLimit": 1, "maxVolume": 1, field: value}

    response = steward_client.put(user_url(user.email), body, format="json")

    assert_api_error(response, 400, "invalid_request")
    assert not Quota.objects.filter(max_quota__isnull=False).exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("maxQuota", 3_000_000_000),
        ("maxQuota", 2**31),  # maxQuota and rateLimit are 32-bit columns
        ("rateLimit", 2**31),
        ("maxVolume", 2**63),  # maxVolume is a 64-bit one
        ("maxQuota", -(2**31) - 1),
        ("maxVolume", -(2**63) - 1),
    ],
)
def test_a_limit_beyond_what_its_column_holds_is_400_and_writes_nothing(
    steward_client, field, value
):
    """PostgreSQL refused 3000000000 in maxQuota with "integer out of range": a 500."""
    quota = QuotaFactory(max_quota=5, rate_limit=2, max_volume=100)
    email = quota.user.email
    body = {"email": email, "maxQuota": 1, "rateLimit": 1, "maxVolume": 1, field: value}

    response = steward_client.put(user_url(email), body, format="json")

    body = assert_api_error(response, 400, "invalid_request")
    assert field in body["errors"]
    quota.refresh_from_db()
    assert (quota.max_quota, quota.rate_limit, quota.max_volume) == (5, 2, 100)


def test_the_largest_limit_each_column_holds_is_accepted(steward_client):
    user = UserFactory()
    limits = {"maxQuota": 2**31 - 1, "rateLimit": 2**31 - 1, "maxVolume": 2**63 - 1}

    response = steward_client.put(
        user_url(user.email), {"email": user.email, **limits}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json() == {"email": user.email, **limits}
    quota = Quota.objects.get(user=user)
    assert (quota.max_quota, quota.rate_limit, quota.max_volume) == tuple(limits.values())


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("field", ["maxQuota", "rateLimit", "maxVolume"])
def test_a_limit_that_is_not_a_finite_integer_in_the_json_is_400(steward_client, field, number):
    quota = QuotaFactory(max_quota=5, rate_limit=2, max_volume=100)
    email = quota.user.email
    others = {"maxQuota": 1, "rateLimit": 1, "maxVolume": 1}
    fields = ", ".join(f'"{name}": {number if name == field else 1}' for name in others)

    response = steward_client.put(
        user_url(email), f'{{"email": "{email}", {fields}}}', content_type="application/json"
    )

    assert_api_error(response, 400, "invalid_request")
    quota.refresh_from_db()
    assert (quota.max_quota, quota.rate_limit, quota.max_volume) == (5, 2, 100)


@pytest.mark.parametrize("missing", ["email", "maxQuota", "rateLimit"])
def test_a_put_missing_a_regards_field_is_400(steward_client, missing):
    user = UserFactory()
    body = {"email": user.email, "maxQuota": 1, "rateLimit": 1}
    del body[missing]

    response = steward_client.put(user_url(user.email), body, format="json")

    assert_api_error(response, 400, "invalid_request")


def test_a_body_email_other_than_the_paths_is_400(steward_client):
    user, other = UserFactory(), UserFactory()

    response = steward_client.put(
        user_url(user.email), {"email": other.email, "maxQuota": 1, "rateLimit": 1}, format="json"
    )

    assert_api_error(response, 400, "invalid_request")
    assert not Quota.objects.filter(max_quota__isnull=False).exists()


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '"a string"', "{"])
def test_a_malformed_json_body_is_400(steward_client, body):
    user = UserFactory()

    response = steward_client.put(user_url(user.email), body, content_type="application/json")

    assert_api_error(response, 400, "invalid_request")


# The other REGARDS rs-storage paths: /quota, /quota/max, /quotas, /quota/current/{email},
# /quota/currents, and the frontend's rs-access-project paths.

STORAGE = "/api/v1/rs-storage"


def test_quota_gives_the_callers_limits_without_the_usage(client_for):
    set_defaults(max_quota=100, rate_limit=5, max_volume=-1)
    user = UserFactory()
    QuotaFactory(user=user, max_quota=7, current_quota=3)

    response = client_for(user).get(f"{STORAGE}/quota")

    assert response.status_code == 200
    assert response.json() == {"email": user.email, "maxQuota": 7, "rateLimit": 5, "maxVolume": -1}


def test_quota_of_an_anonymous_caller_is_the_default(api_client):
    set_defaults(max_quota=10, rate_limit=2, max_volume=300)

    response = api_client.get(f"{STORAGE}/quota")

    assert response.json() == {"email": None, "maxQuota": 10, "rateLimit": 2, "maxVolume": 300}


@pytest.mark.parametrize("own", [None, 4, -1])
def test_quota_max_is_the_callers_max_quota_as_a_bare_number(client_for, own):
    set_defaults(max_quota=50)
    user = UserFactory()
    QuotaFactory(user=user, max_quota=own)

    response = client_for(user).get(f"{STORAGE}/quota/max")

    assert response.status_code == 200
    assert response.json() == (50 if own is None else own)


def test_quota_max_and_currents_are_not_taken_for_emails(steward_client):
    """They used to match quota/{email} and answer 404 "No user max"."""
    assert steward_client.get(f"{STORAGE}/quota/max").status_code == 200
    assert steward_client.post(f"{STORAGE}/quota/currents", [], format="json").status_code == 200


def test_a_steward_reads_the_limits_of_several_users(steward_client):
    set_defaults(max_quota=50, rate_limit=2, max_volume=-1)
    first, second, third = UserFactory(), UserFactory(), UserFactory()
    QuotaFactory(user=second, max_quota=9)

    response = steward_client.get(
        f"{STORAGE}/quotas",
        {"user_email": [f"{first.email},{second.email.upper()}", third.email]},
    )

    assert response.status_code == 200
    assert response.json() == [
        {"email": first.email, "maxQuota": 50, "rateLimit": 2, "maxVolume": -1},
        {"email": second.email, "maxQuota": 9, "rateLimit": 2, "maxVolume": -1},
        {"email": third.email, "maxQuota": 50, "rateLimit": 2, "maxVolume": -1},
    ]


def test_quotas_without_emails_or_with_a_malformed_one_is_400(steward_client):
    assert_api_error(steward_client.get(f"{STORAGE}/quotas"), 400, "invalid_request")
    response = steward_client.get(f"{STORAGE}/quotas", {"user_email": "not-an-email"})
    assert_api_error(response, 400, "invalid_request")


def test_quotas_with_an_unknown_email_is_404(steward_client):
    user = UserFactory()
    response = steward_client.get(
        f"{STORAGE}/quotas", {"user_email": [user.email, "nobody@example.org"]}
    )
    assert_api_error(response, 404, "not_found")


def test_a_steward_reads_the_usage_of_a_user(steward_client, client_for, stored_file):
    content = b"counted bytes\n"
    data_file = stored_file(content)
    user = UserFactory()
    QuotaFactory(user=user, max_quota=7)
    body_of(client_for(user).get(download_url(data_file)))

    response = steward_client.get(f"{STORAGE}/quota/current/{user.email}")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == CURRENT_FIELDS
    assert (body["email"], body["maxQuota"]) == (user.email, 7)
    assert (body["currentQuota"], body["currentVolume"]) == (1, len(content))
    # the same answer the user gets
    assert client_for(user).get(CURRENT).json() == body


def test_a_steward_reads_the_usage_of_several_users(steward_client):
    first, second = UserFactory(), UserFactory()
    QuotaFactory(user=first, current_quota=2, current_volume=20)
    QuotaFactory(user=second, current_quota=5, current_volume=50)

    response = steward_client.post(
        f"{STORAGE}/quota/currents", [second.email, first.email], format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert [set(entry) for entry in body] == [CURRENT_FIELDS, CURRENT_FIELDS]
    assert [(e["email"], e["currentQuota"], e["currentVolume"]) for e in body] == [
        (second.email, 5, 50),
        (first.email, 2, 20),
    ]


@pytest.mark.parametrize(
    "body",
    [{"emails": ["a@example.org"]}, "a@example.org", ["not-an-email"], [1], [None], [["x"]]],
)
def test_currents_with_a_malformed_body_is_400(steward_client, body):
    response = steward_client.post(f"{STORAGE}/quota/currents", body, format="json")
    assert_api_error(response, 400, "invalid_request")


def test_currents_with_more_than_one_hundred_emails_is_400(steward_client):
    emails = [f"user{n}@example.org" for n in range(101)]
    response = steward_client.post(f"{STORAGE}/quota/currents", emails, format="json")
    assert_api_error(response, 400, "invalid_request")


def test_unknown_emails_on_the_usage_routes_are_404(steward_client):
    user = UserFactory()
    response = steward_client.get(f"{STORAGE}/quota/current/nobody@example.org")
    assert_api_error(response, 404, "not_found")
    response = steward_client.post(
        f"{STORAGE}/quota/currents", [user.email, "nobody@example.org"], format="json"
    )
    assert_api_error(response, 404, "not_found")
    assert not Quota.objects.filter(user__email="nobody@example.org").exists()


def test_a_normal_user_may_not_read_others_quotas(client_for):
    user = UserFactory()
    client = client_for(user)

    assert_api_error(client.get(f"{STORAGE}/quotas", {"user_email": user.email}), 403, "forbidden")
    assert_api_error(client.get(f"{STORAGE}/quota/current/{user.email}"), 403, "forbidden")
    response = client.post(f"{STORAGE}/quota/currents", [user.email], format="json")
    assert_api_error(response, 403, "forbidden")
    response = client.get(f"/api/v1/rs-access-project/quota/{user.email}")
    assert_api_error(response, 403, "forbidden")


def test_an_anonymous_caller_may_not_read_others_quotas(api_client):
    user = UserFactory()
    response = api_client.get(f"{STORAGE}/quota/current/{user.email}")
    assert_api_error(response, 401, "authentication_required")
    response = api_client.post(f"{STORAGE}/quota/currents", [user.email], format="json")
    assert_api_error(response, 401, "authentication_required")


def test_the_frontends_rs_access_project_paths_answer_as_rs_storage(client_for, steward_client):
    user = UserFactory()
    QuotaFactory(user=user, max_quota=3, current_quota=1)
    client = client_for(user)

    mine = client.get("/api/v1/rs-access-project/quota/current")
    assert mine.status_code == 200
    assert mine.json() == client.get(CURRENT).json()

    theirs = steward_client.get(f"/api/v1/rs-access-project/quota/{user.email}")
    assert theirs.status_code == 200
    assert theirs.json() == steward_client.get(user_url(user.email)).json()

    response = steward_client.put(
        f"/api/v1/rs-access-project/quota/{user.email}",
        {"email": user.email, "maxQuota": 8, "rateLimit": 2},
        format="json",
    )
    assert response.status_code == 200
    assert Quota.objects.get(user=user).max_quota == 8
