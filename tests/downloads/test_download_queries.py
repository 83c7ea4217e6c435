"""The download path's database work stays small: it is paid on every file."""

import pytest

from tests.factories import AccessGroupFactory, AccessRightFactory, LicenseFactory, UserFactory
from tests.helpers import body_of, download_url


@pytest.mark.django_db
def test_a_private_licensed_download_with_every_check_stays_within_its_queries(
    stored_file, client_for, django_assert_max_num_queries
):
    data_file = stored_file(b"x" * 10240, file_access="NO_ACCESS")
    dataset = data_file.product.dataset
    dataset.license = LicenseFactory()
    dataset.save()
    user = UserFactory()
    AccessRightFactory(group=AccessGroupFactory(members=[user]), dataset=dataset)
    client = client_for(user)
    assert body_of(client.get(download_url(data_file, acceptLicense="true"))) == b"x" * 10240

    # token, product, rights, file, licence, quota, defaults; then one transaction: record,
    # lock, defaults, count and volume, slot; then one more: record, slot release (and
    # volume) (each transaction is a savepoint pair in tests).
    with django_assert_max_num_queries(18):
        assert body_of(client.get(download_url(data_file))) == b"x" * 10240
