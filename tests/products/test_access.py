"""Who sees which products and files in search results (SPEC §3 "Access groups"), via HTTP."""

import pytest

from products.models import AccessRight, DataFile
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    DataFileFactory,
    DatasetFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/rs-catalog/engines/legacy"
SEARCH = f"{API}/dataobjects/search"
DATASET_SEARCH = f"{API}/datasets/search"
FULL = AccessRight.MetadataAccess.FULL_ACCESS
RESTRICTED = AccessRight.MetadataAccess.RESTRICTED_ACCESS
NO_METADATA = AccessRight.MetadataAccess.NO_ACCESS
FILES = AccessRight.FileAccess.INHERITED_ACCESS
NO_FILES = AccessRight.FileAccess.NO_ACCESS
PUBLIC_TYPES = {"QUICKLOOK_SD", "QUICKLOOK_MD", "QUICKLOOK_HD", "THUMBNAIL", "DESCRIPTION"}
PRIVATE_TYPES = {"RAWDATA", "DOCUMENT", "OTHER", "AIP"}


@pytest.fixture(autouse=True)
def storage(settings, tmp_path):
    settings.STORAGE_CONFIG = ""
    settings.STORAGE_DEFAULT_ROOT = tmp_path / "storage"


@pytest.fixture
def public_group():
    return AccessGroupFactory(name="public", public=True)


def dataset_with(group, metadata=FULL, files=FILES, *, label="Dataset"):
    """A dataset with one product holding a file of every dataType, and `group`'s right on it."""
    dataset = DatasetFactory(label=label)
    if group is not None:
        AccessRightFactory(
            group=group, dataset=dataset, metadata_access=metadata, file_access=files
        )
    product = ProductFactory(dataset=dataset, provider_id=f"{label}-product")
    for data_type in DataFile.DataType.values:
        DataFileFactory(product=product, data_type=data_type, filename=f"{data_type.lower()}.dat")
    return dataset


def search_results(client, url=SEARCH, **params):
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    return {entry["content"]["id"]: entry["content"] for entry in response.json()["content"]}


def visible_product_urns(client):
    return set(search_results(client))


def visible_dataset_urns(client):
    return set(search_results(client, DATASET_SEARCH))


def urns_of(*datasets):
    return {product.urn for dataset in datasets for product in dataset.products.all()}


def file_types(client, dataset):
    """The dataTypes of the files the caller gets for the product of `dataset`, via search and
    via the product page, which must agree."""
    (product,) = dataset.products.all()
    in_search = search_results(client)[product.urn]["files"]
    detail = client.get(f"{API}/dataobjects/{product.urn}")
    assert detail.status_code == 200, detail.content
    assert detail.json()["content"]["files"] == in_search
    return set(in_search)


# Metadata access


def test_products_are_visible_only_with_full_access(api_client, public_group):
    full = dataset_with(public_group, FULL, label="full")
    dataset_with(public_group, RESTRICTED, label="restricted")
    dataset_with(public_group, NO_METADATA, label="none")
    dataset_with(None, label="no-right")

    assert visible_product_urns(api_client) == urns_of(full)


def test_hidden_products_are_not_counted_in_the_page(api_client, public_group):
    dataset_with(public_group, FULL, label="full")
    dataset_with(public_group, NO_METADATA, label="none")

    response = api_client.get(SEARCH)

    assert response.json()["metadata"]["totalElements"] == 1


def test_restricted_access_shows_the_dataset_but_not_its_products(
    api_client, client_for, public_group
):
    restricted = dataset_with(public_group, RESTRICTED, FILES, label="restricted")
    (product,) = restricted.products.all()

    assert visible_dataset_urns(api_client) == {restricted.urn}
    assert api_client.get(f"{API}/datasets/{restricted.urn}").status_code == 200
    assert visible_product_urns(api_client) == set()
    in_dataset = search_results(api_client, f"{API}/datasets/{restricted.urn}/dataobjects/search")
    assert in_dataset == {}
    assert api_client.get(f"{API}/dataobjects/{product.urn}").status_code == 401
    user_client = client_for(UserFactory())
    assert user_client.get(f"{API}/dataobjects/{product.urn}").status_code == 403


def test_no_access_hides_the_dataset_too(api_client, public_group):
    dataset_with(public_group, NO_METADATA, label="none")
    dataset_with(None, label="no-right")

    assert visible_dataset_urns(api_client) == set()


# File access


def test_private_files_are_dropped_without_file_access(api_client, public_group):
    dataset = dataset_with(public_group, FULL, NO_FILES)

    assert file_types(api_client, dataset) == PUBLIC_TYPES


def test_file_access_keeps_every_file(api_client, public_group):
    dataset = dataset_with(public_group, FULL, FILES)

    assert file_types(api_client, dataset) == PUBLIC_TYPES | PRIVATE_TYPES


def test_file_access_counts_only_from_a_group_with_full_access(client_for):
    user = UserFactory()
    seeing = AccessGroupFactory(members=[user])
    downloading = AccessGroupFactory(members=[user])
    dataset = dataset_with(seeing, FULL, NO_FILES)
    AccessRightFactory(group=downloading, dataset=dataset, metadata_access=RESTRICTED)

    assert file_types(client_for(user), dataset) == PUBLIC_TYPES


def test_the_best_right_among_the_callers_groups_wins(client_for, public_group):
    user = UserFactory()
    science = AccessGroupFactory(name="science", members=[user])
    dataset = dataset_with(public_group, RESTRICTED, NO_FILES)
    AccessRightFactory(group=science, dataset=dataset, metadata_access=FULL, file_access=FILES)

    assert file_types(client_for(user), dataset) == PUBLIC_TYPES | PRIVATE_TYPES


def test_files_of_another_dataset_do_not_lend_file_access(api_client, public_group):
    without_files = dataset_with(public_group, FULL, NO_FILES, label="without")
    dataset_with(public_group, FULL, FILES, label="with")

    assert file_types(api_client, without_files) == PUBLIC_TYPES


def test_query_on_files_does_not_reveal_private_files_the_caller_cannot_get(
    api_client, public_group
):
    dataset_with(public_group, FULL, NO_FILES)

    by_type = search_results(api_client, q="files.dataType:RAWDATA")
    by_name = search_results(api_client, q="files.filename:rawdata.dat")
    by_quicklook = search_results(api_client, q="files.dataType:QUICKLOOK_SD")

    assert by_type == {}
    assert by_name == {}
    assert len(by_quicklook) == 1


# Groups


def test_public_group_serves_anonymous_callers_and_every_user(api_client, client_for, public_group):
    dataset = dataset_with(public_group, FULL, FILES)

    assert visible_product_urns(api_client) == urns_of(dataset)
    assert visible_product_urns(client_for(UserFactory())) == urns_of(dataset)
    assert file_types(client_for(UserFactory()), dataset) == PUBLIC_TYPES | PRIVATE_TYPES


def test_a_non_public_group_serves_only_its_members(api_client, client_for):
    member, outsider = UserFactory(), UserFactory()
    science = AccessGroupFactory(name="science", members=[member])
    dataset = dataset_with(science, FULL, FILES)

    assert visible_product_urns(client_for(member)) == urns_of(dataset)
    assert file_types(client_for(member), dataset) == PUBLIC_TYPES | PRIVATE_TYPES
    assert visible_product_urns(client_for(outsider)) == set()
    assert visible_product_urns(api_client) == set()
    assert visible_dataset_urns(api_client) == set()


def test_leaving_a_group_takes_its_rights_away(client_for):
    member = UserFactory()
    science = AccessGroupFactory(name="science", members=[member])
    dataset_with(science, FULL, FILES)
    client = client_for(member)
    assert len(visible_product_urns(client)) == 1

    science.members.remove(member)

    assert visible_product_urns(client) == set()


def test_several_groups_granting_one_dataset_list_each_product_once(client_for, public_group):
    user = UserFactory()
    dataset = dataset_with(public_group, FULL, FILES)
    for name in ("science", "ops"):
        group = AccessGroupFactory(name=name, members=[user])
        AccessRightFactory(group=group, dataset=dataset)

    response = client_for(user).get(SEARCH)

    assert response.json()["metadata"]["totalElements"] == 1
    assert len(response.json()["content"]) == 1
    datasets = client_for(user).get(DATASET_SEARCH).json()
    assert datasets["metadata"]["totalElements"] == 1


# Superusers and data stewards


@pytest.mark.parametrize(
    "make_user",
    [
        lambda: UserFactory(is_superuser=True, is_staff=True),
        lambda: UserFactory(steward=True),
    ],
    ids=["superuser", "steward"],
)
def test_superusers_and_stewards_see_everything(client_for, public_group, make_user):
    datasets = [
        dataset_with(public_group, FULL, NO_FILES, label="full-no-files"),
        dataset_with(public_group, RESTRICTED, label="restricted"),
        dataset_with(public_group, NO_METADATA, label="none"),
        dataset_with(None, label="no-right"),
    ]
    client = client_for(make_user())

    assert visible_product_urns(client) == urns_of(*datasets)
    assert visible_dataset_urns(client) == {dataset.urn for dataset in datasets}
    for dataset in datasets:
        assert file_types(client, dataset) == PUBLIC_TYPES | PRIVATE_TYPES


def test_staff_status_alone_grants_nothing(client_for):
    dataset_with(None, label="no-right")

    client = client_for(UserFactory(is_staff=True))

    assert visible_product_urns(client) == set()
    assert visible_dataset_urns(client) == set()
