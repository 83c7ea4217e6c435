"""A data steward at work in /admin/, in a browser, and what a scientist then meets."""

import csv
import io
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from downloads.models import LicenseAcceptance, Quota, RestoreRequest
from products.models import License
from tests.browser.helpers import log_in
from tests.factories import (
    DownloadRecordFactory,
    LicenseAcceptanceFactory,
    QuotaFactory,
    RestoreRequestFactory,
)
from tests.helpers import download_url

pytestmark = pytest.mark.django_db(transaction=True)


def run_action(page, row_text, action):
    """Tick the list's row holding `row_text`, then run `action` on it, as a person does."""
    page.get_by_role("row").filter(has_text=row_text).get_by_role("checkbox").check()
    page.get_by_role("combobox", name="Action").select_option(label=action)
    page.get_by_role("button", name="Go").click()


def test_a_steward_licenses_a_dataset_then_a_new_version_asks_the_scientist_again(
    server, steward_page, new_page, person, stored_file
):
    page = steward_page
    data_file = stored_file(b"sea ice extent\n", filename="ice.csv")
    dataset = data_file.product.dataset

    page.goto(server + "/admin/products/license/add/")
    page.get_by_label("Id:", exact=True).fill("polar-data")
    page.get_by_label("Title:", exact=True).fill("Polar Data Licence")
    page.get_by_label("Url:", exact=True).fill("https://polar.example.org/licence")
    page.get_by_label("Text:", exact=True).fill("Cite the polar programme.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("was added successfully")).to_be_visible()
    license = License.objects.get(slug="polar-data")

    page.goto(server + f"/admin/products/dataset/{dataset.pk}/change/")
    page.get_by_label("License:", exact=True).select_option(label="Polar Data Licence (v1)")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("was changed successfully")).to_be_visible()
    dataset.refresh_from_db()
    assert dataset.license == license

    # A scientist who accepted version 1 downloads, until version 2 is published.
    scientist = person()
    LicenseAcceptanceFactory(user=scientist, license=license)
    scientist_page = new_page()
    scientist_page.goto(server + "/accounts/login/?" + urlencode({"next": download_url(data_file)}))
    with scientist_page.expect_download():
        log_in(scientist_page, scientist)

    page.goto(server + f"/admin/products/license/{license.pk}/change/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Publish a new version").click()
    expect(page.get_by_text("Published version 2 of polar-data")).to_be_visible()
    license.refresh_from_db()
    assert license.version == 2

    response = scientist_page.goto(server + download_url(data_file))
    assert response.status == 423
    expect(scientist_page.get_by_role("heading", level=1)).to_contain_text("(version 2)")
    scientist_page.get_by_role("link", name="Read the licence and accept it").click()
    with scientist_page.expect_download() as download:
        scientist_page.get_by_role("button", name="Accept").click()
    assert download.value.suggested_filename == "ice.csv"
    assert LicenseAcceptance.objects.filter(user=scientist, version=2).exists()


def test_a_steward_sets_and_resets_a_quota_exports_records_and_retries_a_restore(
    server, steward_page, person, stored_file, tmp_path
):
    page = steward_page
    scientist = person(email="ana@example.org")
    QuotaFactory(user=scientist, current_quota=7, current_volume=700)
    for name in ("a.nc", "b.nc"):
        DownloadRecordFactory(user=scientist, data_file=stored_file(filename=name))
    failed = RestoreRequestFactory(status=RestoreRequest.Status.FAILED, error="tape drive down")

    page.goto(server + "/admin/downloads/quota/")
    row = page.get_by_role("row").filter(has_text="ana@example.org")
    row.locator("input[name$='-max_quota']").fill("5")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("was changed successfully")).to_be_visible()
    assert Quota.objects.get(user=scientist).max_quota == 5

    run_action(page, "ana@example.org", "Reset counters (downloads and volume)")
    expect(page.get_by_text("Reset the counters of 1 quota(s).")).to_be_visible()
    quota = Quota.objects.get(user=scientist)
    assert (quota.max_quota, quota.current_quota, quota.current_volume) == (5, 0, 0)

    page.goto(server + "/admin/downloads/downloadrecord/")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert sorted((row["user"], row["filename"], row["outcome"]) for row in rows) == [
        ("ana@example.org", "a.nc", "COMPLETED"),
        ("ana@example.org", "b.nc", "COMPLETED"),
    ]

    page.goto(server + "/admin/downloads/restorerequest/")
    run_action(page, failed.data_file.filename, "Retry the selected failed restores")
    expect(page.get_by_text("1 failed restore(s) queued again.")).to_be_visible()
    failed.refresh_from_db()
    assert (failed.status, failed.error) == (RestoreRequest.Status.PENDING, "")
