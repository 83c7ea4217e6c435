"""`selectors.requested_file` is one statement written by hand: it must answer what the ORM
rules it stands for answer (`products.access.dataset_access`, `license_is_accepted`), for
every kind of caller and every state of rights and licences."""

import itertools

import pytest
from django.contrib.auth.models import AnonymousUser

from downloads import quotas, selectors
from downloads.models import QuotaDefaults
from products.access import dataset_access
from products.models import AccessRight, DataFile, License
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    DataFileFactory,
    DatasetFactory,
    LicenseAcceptanceFactory,
    LicenseFactory,
    ProductFactory,
    QuotaFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

Metadata, Files = AccessRight.MetadataAccess, AccessRight.FileAccess


def expected(user, data_file):
    """What the ORM's rules say of `user` (None, anonymous or a user) and the file."""
    caller = user or AnonymousUser()
    sees, downloads_private = dataset_access(caller, data_file.product.dataset_id)
    license = data_file.product.dataset.license
    logged_in = caller.is_authenticated
    accepted = (
        license is not None
        and logged_in
        and selectors.license_is_accepted(user=caller, license=license)
    )
    project = selectors.project_license()
    pending = project is not None and not (
        logged_in and selectors.license_is_accepted(user=caller, license=project)
    )
    return sees, downloads_private, accepted, pending


def answered(user, data_file, checksum=None):
    requested = selectors.requested_file(
        user=user, urn=data_file.product.urn, checksum=checksum or data_file.checksum
    )
    assert requested.product == data_file.product
    assert requested.data_file == data_file
    return (
        requested.sees,
        requested.downloads_private,
        requested.license_accepted,
        requested.project_license_pending,
    )


@pytest.fixture
def alice():
    return UserFactory()


@pytest.mark.parametrize(
    ("public", "member", "metadata", "files"),
    list(
        itertools.product(
            [False, True],
            [False, True],
            [Metadata.FULL_ACCESS, Metadata.RESTRICTED_ACCESS],
            [Files.INHERITED_ACCESS, Files.NO_ACCESS],
        )
    ),
)
def test_rights_are_those_of_dataset_access(alice, public, member, metadata, files):
    data_file = DataFileFactory()
    group = AccessGroupFactory(public=public, members=[alice] if member else [])
    AccessRightFactory(
        group=group, dataset=data_file.product.dataset, metadata_access=metadata, file_access=files
    )
    AccessRightFactory(dataset=DatasetFactory())  # a right on another dataset grants nothing
    for user in (alice, UserFactory(), AnonymousUser(), None):
        assert answered(user, data_file) == expected(user, data_file), user


def test_no_right_at_all_sees_nothing(alice):
    data_file = DataFileFactory()
    assert answered(alice, data_file)[:2] == (False, False)
    assert answered(None, data_file)[:2] == (False, False)


def test_stewards_and_superusers_see_and_download_everything():
    data_file = DataFileFactory()
    for user in (UserFactory(steward=True), UserFactory(is_superuser=True)):
        assert answered(user, data_file)[:2] == (True, True)
    assert answered(UserFactory(is_staff=True), data_file)[:2] == (False, False)


@pytest.mark.parametrize("project", [False, True])
@pytest.mark.parametrize("dataset_license", [False, True])
@pytest.mark.parametrize("acceptance", ["none", "current", "old", "other user"])
def test_licences_are_those_of_license_is_accepted(alice, project, dataset_license, acceptance):
    license = LicenseFactory(version=2) if dataset_license else None
    data_file = DataFileFactory(product=ProductFactory(dataset=DatasetFactory(license=license)))
    project_license = LicenseFactory(project=True, version=3) if project else None
    for accepted in (license, project_license):
        if accepted is None or acceptance == "none":
            continue
        if acceptance == "current":
            LicenseAcceptanceFactory(user=alice, license=accepted)
        elif acceptance == "old":
            LicenseAcceptanceFactory(user=alice, license=accepted, version=accepted.version - 1)
        else:
            LicenseAcceptanceFactory(user=UserFactory(), license=accepted)
    for user in (alice, AnonymousUser(), None):
        assert answered(user, data_file) == expected(user, data_file), (user, acceptance)


def test_the_licence_and_dataset_come_loaded_with_the_file(django_assert_num_queries, alice):
    license = LicenseFactory(title="CC-BY", version=4)
    data_file = DataFileFactory(
        product=ProductFactory(dataset=DatasetFactory(license=license)),
        data_type=DataFile.DataType.QUICKLOOK_SD,
    )
    with django_assert_num_queries(1):
        requested = selectors.requested_file(
            user=alice, urn=data_file.product.urn, checksum=data_file.checksum
        )
        loaded = requested.data_file
        assert loaded.product.dataset.license.title == "CC-BY"
        assert loaded.product.dataset.license.version == 4
        assert loaded.is_public_type
        assert loaded.filesize == data_file.filesize
        assert loaded.product.urn == data_file.product.urn
    # Columns left out of the statement (JSON, text) still load when read.
    assert loaded.product.properties == data_file.product.properties
    assert isinstance(License.objects.get().text, str)
    assert loaded.product.dataset.license.text == license.text


def test_checksum_matches_in_any_case(alice):
    data_file = DataFileFactory(content=b"some bytes")
    assert answered(alice, data_file, checksum=data_file.checksum.upper()) == expected(
        alice, data_file
    )


def test_a_missing_file_or_product_says_which(alice):
    data_file = DataFileFactory()
    AccessRightFactory(group=AccessGroupFactory(public=True), dataset=data_file.product.dataset)
    missing_file = selectors.requested_file(
        user=alice, urn=data_file.product.urn, checksum="0" * 32
    )
    assert missing_file.product == data_file.product
    assert missing_file.data_file is None
    assert (missing_file.sees, missing_file.downloads_private) == (True, True)
    missing_product = selectors.requested_file(
        user=alice,
        urn="URN:FEATURE:DATA:test:00000000-0000-0000-0000-000000000000:V1",
        checksum=data_file.checksum,
    )
    assert missing_product.product is None and missing_product.data_file is None


def quota_read(user, data_file, address=None):
    """(id, current count, limits) of the quota `requested_file` read, or None."""
    quota = selectors.requested_file(
        user=user, urn=data_file.product.urn, checksum=data_file.checksum, address=address
    ).quota
    return quota and (quota.pk, quota.current_quota, quotas.Limits.of(quota))


def test_the_callers_quota_comes_with_the_file_as_quota_for_reads_it(alice):
    data_file = DataFileFactory()
    QuotaDefaults.objects.create(pk=1, max_quota=50, rate_limit=3, max_volume=10**9)
    assert quota_read(alice, data_file) is None  # none yet: check 9 creates it
    mine = QuotaFactory(user=alice, current_quota=7, max_quota=20)
    QuotaFactory(user=UserFactory(), current_quota=1)
    QuotaFactory(client_address="192.0.2.7", current_quota=2)

    assert quota_read(alice, data_file) == (mine.pk, 7, quotas.Limits(20, 3, 10**9))
    expected = quotas.quota_for(user=alice)
    assert quota_read(alice, data_file) == (expected.pk, 7, quotas.Limits.of(expected))


def test_an_anonymous_callers_quota_is_its_address(db):
    data_file = DataFileFactory()
    theirs = QuotaFactory(client_address="192.0.2.7", current_quota=2)

    for caller in (None, AnonymousUser()):
        assert quota_read(caller, data_file, "192.0.2.7") == (
            theirs.pk,
            2,
            quotas.Limits(-1, -1, -1),
        )
        assert quota_read(caller, data_file, "192.0.2.8") is None
    assert quota_read(None, data_file) is None  # no address: the shared 0.0.0.0 quota


def test_a_missing_file_still_answers_with_the_quota(alice):
    data_file = DataFileFactory()
    QuotaFactory(user=alice)
    requested = selectors.requested_file(user=alice, urn=data_file.product.urn, checksum="0" * 32)
    assert requested.data_file is None and requested.quota.user == alice
