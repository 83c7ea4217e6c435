"""`regards_catalog.sql`: the hand-written statements of the download hot path write what
the ORM would, and `insert(…, after_update=…)` writes all or nothing."""

import pytest
from django.contrib.auth.models import Group
from django.db import DataError, transaction

from regards_catalog import sql
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_statement():
    if not sql.writes_in_one_statement():
        pytest.skip("SQLite has no UPDATE inside WITH: the quota take uses a transaction there")


def renaming(user, name):
    """An UPDATE of one user's first name, for `after_update`: it changes a row only while
    that user is active."""
    return (
        "UPDATE auth_user SET first_name = %(name)s WHERE id = %(id)s AND is_active",
        {"name": name, "id": user.pk},
    )


def test_insert_writes_the_row_and_sets_its_key():
    group = sql.insert(Group(name="written by hand"))

    assert group.pk is not None and not group._state.adding
    assert Group.objects.get(pk=group.pk).name == "written by hand"


def test_insert_after_an_update_writes_both(one_statement):
    user = UserFactory(first_name="before")

    group = sql.insert(Group(name="written by hand"), after_update=renaming(user, "after"))

    assert Group.objects.get(pk=group.pk).name == "written by hand"
    user.refresh_from_db()
    assert user.first_name == "after"


def test_insert_after_an_update_that_changes_nothing_writes_nothing(one_statement):
    user = UserFactory(first_name="before", is_active=False)

    assert sql.insert(Group(name="written by hand"), after_update=renaming(user, "after")) is None

    assert not Group.objects.filter(name="written by hand").exists()
    user.refresh_from_db()
    assert user.first_name == "before"


def test_a_value_too_long_for_its_column_fails_and_undoes_the_update(one_statement):
    user = UserFactory(first_name="before")
    too_long = "x" * (Group._meta.get_field("name").max_length + 1)

    # As INSERT … VALUES would: an error, never a value cut to fit.
    with pytest.raises(DataError), transaction.atomic():
        sql.insert(Group(name=too_long), after_update=renaming(user, "after"))

    assert not Group.objects.filter(name__startswith="xxx").exists()
    user.refresh_from_db()
    assert user.first_name == "before"
