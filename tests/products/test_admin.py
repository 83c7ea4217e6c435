"""The catalog admin, as a data steward (staff, in the stewards group, not a superuser) uses it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from products.models import AccessGroup, AccessRight, DataFile, Dataset
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    DataFileFactory,
    DatasetFactory,
    LicenseFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "/admin/products/accessgroup/",
    "/admin/products/accessright/",
    "/admin/products/dataset/",
    "/admin/products/product/",
    "/admin/products/datafile/",
]


@pytest.fixture
def catalog():
    """One of everything: a group with a member, a right, a licensed dataset, a product, a file."""
    member = UserFactory(email="member@example.org")
    group = AccessGroupFactory(name="science", members=[member])
    dataset = DatasetFactory(label="Sentinel scenes", license=LicenseFactory(slug="cc-by"))
    AccessRightFactory(group=group, dataset=dataset)
    product = ProductFactory(dataset=dataset, provider_id="S2A_MSIL1C_20220613", label="Toulouse")
    data_file = DataFileFactory(product=product, filename="scene.tif", storage="online")
    return {"group": group, "dataset": dataset, "product": product, "file": data_file}


def listed(response):
    assert response.status_code == 200, response.status_code
    return list(response.context["cl"].result_list)


@pytest.mark.parametrize("url", CHANGELISTS)
def test_a_steward_sees_every_catalog_list(client, steward, catalog, url):
    assert len(listed(client.get(url))) == 1


@pytest.mark.parametrize("url", CHANGELISTS)
def test_every_catalog_list_is_searchable(client, steward, catalog, url):
    assert listed(client.get(url, {"q": "no such thing anywhere"})) == []


@pytest.mark.parametrize("url", CHANGELISTS)
def test_an_anonymous_visitor_is_sent_to_the_login_page(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", CHANGELISTS)
def test_a_user_who_is_not_staff_gets_no_access(client, url):
    client.force_login(UserFactory())

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_admin_index_shows_the_steward_the_catalog_licenses_and_quotas(client, steward):
    response = client.get("/admin/")

    assert response.status_code == 200
    for name in (b"Access groups", b"Products", b"Licenses", b"Quotas", b"Download records"):
        assert name in response.content


def test_access_groups_list_their_member_count(client, steward, catalog):
    AccessGroupFactory(name="empty")

    groups = listed(client.get("/admin/products/accessgroup/"))

    assert {(group.name, group.member_count) for group in groups} == {("science", 1), ("empty", 0)}


def test_access_groups_are_found_by_a_member_email(client, steward, catalog):
    AccessGroupFactory(name="other")

    groups = listed(client.get("/admin/products/accessgroup/", {"q": "member@example"}))

    assert [group.name for group in groups] == ["science"]


def test_a_steward_creates_a_group_with_members(client, steward):
    alice, bob = UserFactory(), UserFactory()

    response = client.post(
        "/admin/products/accessgroup/add/",
        {"name": "partners", "public": "", "members": [alice.pk, bob.pk]},
    )

    assert response.status_code == 302
    group = AccessGroup.objects.get(name="partners")
    assert set(group.members.all()) == {alice, bob}
    assert not group.public


def test_datasets_are_found_by_urn_and_label(client, steward, catalog):
    other = DatasetFactory(label="Landsat")
    url = "/admin/products/dataset/"

    assert listed(client.get(url, {"q": "sentinel"})) == [catalog["dataset"]]
    assert listed(client.get(url, {"q": other.urn})) == [other]


def test_datasets_are_filtered_by_license(client, steward, catalog):
    DatasetFactory(label="Free data")
    license = catalog["dataset"].license

    datasets = listed(client.get("/admin/products/dataset/", {"license__id__exact": license.pk}))

    assert datasets == [catalog["dataset"]]


def test_a_steward_grants_a_group_file_access_from_the_dataset_page(client, steward, catalog):
    dataset, partners = catalog["dataset"], AccessGroupFactory(name="partners")
    right = dataset.access_rights.get()
    prefix = "access_rights"

    response = client.post(
        f"/admin/products/dataset/{dataset.pk}/change/",
        {
            "urn": dataset.urn,
            "label": "Sentinel scenes (L1C)",
            "license": dataset.license_id,
            f"{prefix}-TOTAL_FORMS": "2",
            f"{prefix}-INITIAL_FORMS": "1",
            f"{prefix}-0-id": right.pk,
            f"{prefix}-0-dataset": dataset.pk,
            f"{prefix}-0-group": right.group_id,
            f"{prefix}-0-metadata_access": "FULL_ACCESS",
            f"{prefix}-0-file_access": "INHERITED_ACCESS",
            f"{prefix}-1-dataset": dataset.pk,
            f"{prefix}-1-group": partners.pk,
            f"{prefix}-1-metadata_access": "FULL_ACCESS",
            f"{prefix}-1-file_access": "INHERITED_ACCESS",
        },
    )

    assert response.status_code == 302, response.context["errors"]
    dataset.refresh_from_db()
    assert dataset.label == "Sentinel scenes (L1C)"
    assert dataset.access_rights.get(group=partners).file_access == "INHERITED_ACCESS"


def test_access_rights_are_filtered_by_levels(client, steward, catalog):
    restricted = AccessRightFactory(
        metadata_access=AccessRight.MetadataAccess.RESTRICTED_ACCESS,
        file_access=AccessRight.FileAccess.NO_ACCESS,
    )
    url = "/admin/products/accessright/"

    assert listed(client.get(url, {"metadata_access__exact": "RESTRICTED_ACCESS"})) == [restricted]
    assert listed(client.get(url, {"file_access__exact": "NO_ACCESS"})) == [restricted]
    assert listed(client.get(url, {"q": "science"})) == [catalog["dataset"].access_rights.get()]


def test_products_are_found_by_urn_provider_id_and_label(client, steward, catalog):
    product = catalog["product"]
    ProductFactory(dataset=catalog["dataset"], provider_id="OTHER", label="Paris")
    url = "/admin/products/product/"

    assert listed(client.get(url, {"q": product.urn})) == [product]
    assert listed(client.get(url, {"q": "MSIL1C"})) == [product]
    assert listed(client.get(url, {"q": "toulouse"})) == [product]


def test_products_are_filtered_by_dataset(client, steward, catalog):
    ProductFactory()

    products = listed(
        client.get("/admin/products/product/", {"dataset__id__exact": catalog["dataset"].pk})
    )

    assert products == [catalog["product"]]


def test_the_product_list_never_counts_the_whole_table(client, steward, catalog):
    ProductFactory.create_batch(3, dataset=catalog["dataset"])

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/products/product/", {"q": "Product"})

    assert response.status_code == 200
    assert response.context["cl"].show_full_result_count is False
    counts = [query["sql"] for query in queries if "COUNT(" in query["sql"].upper()]
    assert len(counts) == 1 and "LIKE" in counts[0].upper()


def test_a_product_page_shows_its_files(client, steward, catalog):
    product = catalog["product"]

    response = client.get(f"/admin/products/product/{product.pk}/change/")

    assert response.status_code == 200
    assert b"scene.tif" in response.content


def test_the_product_list_is_paginated(client, steward, catalog):
    ProductFactory.create_batch(60, dataset=catalog["dataset"])

    first, second = (client.get("/admin/products/product/", {"p": page}) for page in (1, 2))

    assert len(listed(first)) == 50
    assert len(listed(second)) == 11


def test_files_are_found_by_checksum_and_filename(client, steward, catalog):
    data_file = catalog["file"]
    DataFileFactory(filename="other.nc")
    url = "/admin/products/datafile/"

    assert listed(client.get(url, {"q": data_file.checksum})) == [data_file]
    assert listed(client.get(url, {"q": "scene.t"})) == [data_file]


def test_files_are_filtered_by_data_type_and_storage_location(client, steward, catalog):
    quicklook = DataFileFactory(data_type=DataFile.DataType.QUICKLOOK_SD, storage="nearline")
    reference = DataFileFactory(reference=True, storage="", uri="https://elsewhere.example/x")
    url = "/admin/products/datafile/"

    assert listed(client.get(url, {"data_type__exact": "QUICKLOOK_SD"})) == [quicklook]
    assert listed(client.get(url, {"storage": "nearline"})) == [quicklook]
    assert listed(client.get(url, {"storage": "-"})) == [reference]


def test_the_storage_filter_offers_the_configured_locations(client, steward, settings, tmp_path):
    settings.STORAGE_CONFIG = ""
    settings.STORAGE_DEFAULT_ROOT = tmp_path

    response = client.get("/admin/products/datafile/")

    assert b"?storage=online" in response.content
    assert b"?storage=nearline" in response.content


def test_a_steward_deletes_a_dataset_without_products(client, steward):
    dataset = DatasetFactory()

    response = client.post(f"/admin/products/dataset/{dataset.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Dataset.objects.filter(pk=dataset.pk).exists()
