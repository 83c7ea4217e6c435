"""License.publish: the one place a licence gets a new version (SPEC §3 Licences)."""

import pytest

from products.models import License
from tests.factories import LicenseFactory
from tests.helpers import in_threads

PARALLEL = 8


def stored(license):
    return License.objects.values_list("version", "text").get(pk=license.pk)


@pytest.mark.django_db
def test_a_new_text_is_a_new_version():
    license = LicenseFactory(text="Give credit.", version=3)

    assert license.publish(text="Give credit, and share alike.") is True

    assert stored(license) == (4, "Give credit, and share alike.")
    assert license.version == 4


@pytest.mark.django_db
def test_a_new_title_with_the_same_text_keeps_the_version():
    license = LicenseFactory(text="Give credit.")

    assert license.publish(title="CC BY", text="Give credit.") is False

    assert License.objects.values_list("title", "version").get(pk=license.pk) == ("CC BY", 1)


@pytest.mark.django_db
def test_new_version_publishes_one_with_the_same_text():
    license = LicenseFactory(version=2)

    assert license.publish(new_version=True) is True

    assert stored(license)[0] == 3


@pytest.mark.django_db
def test_a_version_never_goes_back():
    license = LicenseFactory(text="Give credit.", version=4)

    license.publish(text="Give credit.", version=2)

    assert stored(license)[0] == 4


@pytest.mark.django_db
def test_publishing_applies_the_rule_to_the_stored_row_not_to_a_stale_copy():
    license = LicenseFactory(text="Give credit.")
    stale = License.objects.get(pk=license.pk)
    license.publish(text="Give credit, and share alike.")

    stale.publish(text="No commercial use.")

    assert stored(license) == (3, "No commercial use.")


def publish_at_once(license, publications):
    in_threads(
        len(publications),
        lambda index: License.objects.get(pk=license.pk).publish(**publications[index]),
    )


def test_stewards_publishing_new_texts_at_once_each_get_a_version(transactional_db):
    license = LicenseFactory(text="Give credit.")

    publish_at_once(license, [{"text": f"Terms number {n}."} for n in range(PARALLEL)])

    assert stored(license)[0] == 1 + PARALLEL


def test_stewards_publishing_new_versions_at_once_each_get_a_version(transactional_db):
    license = LicenseFactory()

    publish_at_once(license, [{"new_version": True}] * PARALLEL)

    assert stored(license)[0] == 1 + PARALLEL
