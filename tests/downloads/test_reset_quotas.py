"""manage.py reset_quotas: zero the download counters of every quota, or of some users."""

import io
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from downloads.models import Quota
from tests.factories import QuotaFactory, RunningDownloadFactory, UserFactory
from tests.helpers import running_downloads

pytestmark = pytest.mark.django_db

SINCE = datetime(2026, 1, 5, 8, 30, tzinfo=UTC)


def quota(user=None, *, address=None, downloads=0, volume=0):
    created = QuotaFactory(
        user=user, client_address=address, current_quota=downloads, current_volume=volume
    )
    Quota.objects.filter(pk=created.pk).update(since=SINCE)
    return created


def reset_quotas(*args):
    out = io.StringIO()
    call_command("reset_quotas", *args, stdout=out)
    return out.getvalue().splitlines()


def usage(quota):
    quota.refresh_from_db()
    return quota.current_quota, quota.current_volume


@pytest.fixture
def alice():
    return UserFactory(email="alice@example.org")


@pytest.fixture
def bob():
    return UserFactory(email="bob@example.org")


def test_it_resets_every_quota_users_and_anonymous_addresses(alice, bob):
    quotas = [
        quota(alice, downloads=3, volume=13_107_200),
        quota(bob, downloads=1, volume=2048),
        quota(address="192.0.2.7", downloads=5, volume=10),
    ]

    lines = reset_quotas()

    assert lines == [
        "alice@example.org: 3 downloads, 12.5 MB since 2026-01-05 08:30 UTC",
        "bob@example.org: 1 download, 2.0 KB since 2026-01-05 08:30 UTC",
        "anonymous 192.0.2.7: 5 downloads, 10 bytes since 2026-01-05 08:30 UTC",
        "Reset 3 quotas.",
    ]
    assert [usage(q) for q in quotas] == [(0, 0)] * 3


def test_a_reset_starts_a_new_period(alice):
    mine = quota(alice, downloads=3)
    before = timezone.now()

    reset_quotas()

    mine.refresh_from_db()
    assert mine.since >= before


def test_user_resets_only_that_user(alice, bob):
    mine, theirs = quota(alice, downloads=3), quota(bob, downloads=4)

    lines = reset_quotas("--user", "Alice@Example.org")

    assert lines == [
        "alice@example.org: 3 downloads, 0 bytes since 2026-01-05 08:30 UTC",
        "Reset 1 quota.",
    ]
    assert usage(mine) == (0, 0)
    assert usage(theirs) == (4, 0)


def test_user_may_be_given_several_times_or_with_several_emails(alice, bob):
    carol, dave = UserFactory(email="carol@example.org"), UserFactory(email="dave@example.org")
    quotas = [quota(user, downloads=2) for user in (alice, bob, carol, dave)]
    anonymous = quota(address="192.0.2.7", downloads=2)

    lines = reset_quotas(
        "--user", "alice@example.org", "bob@example.org", "--user", "carol@example.org"
    )

    assert lines[-1] == "Reset 3 quotas."
    assert [usage(q)[0] for q in [*quotas, anonymous]] == [0, 0, 0, 2, 2]


def test_a_user_without_downloads_yet_is_said_to_have_nothing_to_reset(alice, bob):
    quota(alice, downloads=1)

    lines = reset_quotas("--user", "alice@example.org", "--user", "bob@example.org")

    assert "bob@example.org: no downloads counted yet, nothing to reset" in lines
    assert lines[-1] == "Reset 1 quota."


def test_an_unknown_user_is_an_error_and_nothing_is_reset(alice):
    mine = quota(alice, downloads=3)

    with pytest.raises(CommandError, match="nobody@example.org"):
        reset_quotas("--user", "alice@example.org", "--user", "nobody@example.org")

    assert usage(mine) == (3, 0)


def test_a_dry_run_says_what_it_would_reset_and_changes_nothing(alice):
    mine = quota(alice, downloads=3, volume=1024)

    lines = reset_quotas("--dry-run")

    assert lines == [
        "alice@example.org: would reset 3 downloads, 1.0 KB since 2026-01-05 08:30 UTC",
        "Would reset 1 quota (dry run).",
    ]
    assert usage(mine) == (3, 1024)
    mine.refresh_from_db()
    assert mine.since == SINCE


def test_a_reset_leaves_the_live_slots_of_running_downloads_alone(alice):
    mine = quota(alice, downloads=3)
    slot = RunningDownloadFactory(quota=mine, seconds_left=60)

    reset_quotas()

    assert usage(mine) == (0, 0)
    assert running_downloads().filter(pk=slot.pk).exists()


def test_with_no_quota_at_all_it_resets_nothing():
    assert reset_quotas() == ["Reset 0 quotas."]
