"""A steward opens the usage dashboard after real downloads, and reads what the database holds.

With UPDATE_SCREENSHOTS=1 the test also writes the README's picture of the dashboard,
docs/usage-dashboard.png.
"""

import os
import pathlib
import shutil

import pytest
import requests
from django.db.models import Sum
from playwright.sync_api import expect

from downloads import quotas
from downloads.models import DownloadRecord
from tests.helpers import download_url

pytestmark = pytest.mark.django_db(transaction=True)

README_SCREENSHOT = pathlib.Path(__file__).resolve().parents[2] / "docs" / "usage-dashboard.png"


def figure(page, name, within=None):
    """The exact value a figure of the page holds (its data-value, the text rounds bytes)."""
    cell = (within or page).locator(f"[data-figure='{name}']")
    return int(cell.get_attribute("data-value"))


def test_the_usage_dashboard_shows_the_downloads_the_database_holds(
    server, steward_page, person, stored_file, token_for, tmp_path
):
    ice = stored_file(b"sea ice extent\n" * 700, filename="ice.csv")
    sst = stored_file(b"sea surface temperature\n" * 2000, filename="sst.nc")
    scientist = person(email="ocean@example.org")
    quotas.quota_limits_set(
        quota=quotas.quota_for(user=scientist), max_quota=3, rate_limit=-1, max_volume=-1
    )
    headers = {"Authorization": f"Bearer {token_for(scientist)}"}
    answers = [
        requests.get(server + download_url(data_file), headers=headers, timeout=60).status_code
        for data_file in (ice, ice, sst, sst)  # the fourth is past maxQuota
    ]
    assert answers == [200, 200, 200, 429]

    page = steward_page
    page.goto(server + "/admin/")
    page.get_by_role("link", name="Usage dashboard").click()
    expect(page.locator("[data-figure='downloads-total']")).to_be_visible()

    delivered = DownloadRecord.objects.filter(outcome=DownloadRecord.Outcome.COMPLETED)
    assert figure(page, "downloads-total") == delivered.count() == 3
    sent = delivered.aggregate(total=Sum("bytes_sent"))["total"]
    assert figure(page, "bytes-total") == sent == 2 * ice.filesize + sst.filesize
    for data_file, times in ((ice, 2), (sst, 1)):
        row = page.locator(f"tr[data-dataset='{data_file.product.dataset.urn}']")
        assert figure(page, "dataset-downloads", row) == times
        assert figure(page, "dataset-bytes", row) == times * data_file.filesize
    refused = page.locator(f"tr[data-outcome='{DownloadRecord.Outcome.QUOTA_EXCEEDED}']")
    assert figure(page, "refusals", refused) == 1
    top = page.locator("tr[data-user='ocean@example.org']")
    assert figure(page, "user-bytes", top) == sent
    assert figure(page, "live-slots-total") == 0  # every download has ended

    shot = tmp_path / "usage-dashboard.png"
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=shot, full_page=True)
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(shot, README_SCREENSHOT)
