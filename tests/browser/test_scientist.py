"""A scientist in a browser: a licensed file's link, the licence, the download; then the
account page, and an API token from there that works with curl."""

import hashlib
import re
import subprocess

import pytest
from playwright.sync_api import expect

from downloads.models import LicenseAcceptance
from tests.browser.helpers import log_in
from tests.factories import LicenseFactory
from tests.helpers import download_url, external, finished_records, md5
from tests.processes import DEADLINE, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

CONTENT = b"sea surface temperature, 2024-06-13\n" * 500


@pytest.fixture
def licensed_file(stored_file):
    """A private file of a dataset under a licence, which anyone may download once they
    have accepted it (a logged-in user only: anonymous callers can never accept)."""
    data_file = stored_file(CONTENT, filename="sst 2024-06-13.csv", mime_type="text/csv")
    dataset = data_file.product.dataset
    dataset.license = LicenseFactory(title="Ocean Data Licence", text="Cite the mission.")
    dataset.save(update_fields=["license"])
    return data_file


def test_a_scientist_accepts_the_licence_downloads_then_uses_a_token_with_curl(
    server, page, person, licensed_file, tmp_path
):
    scientist = person(email="marie@example.org")
    link = server + download_url(licensed_file)

    # The download link, in a browser: an HTML page saying why, not JSON.
    response = page.goto(link)
    assert response.status == 423
    assert response.headers["content-type"].startswith("text/html")
    expect(page.get_by_role("heading", level=1)).to_contain_text("licence")
    page.get_by_role("link", name="Read the licence").click()

    # The licence page: the text, and a login before accepting.
    expect(page.get_by_role("heading", name="Ocean Data Licence")).to_be_visible()
    expect(page.get_by_text("Cite the mission.")).to_be_visible()
    page.get_by_role("link", name="Log in").click()
    log_in(page, scientist)
    expect(page.get_by_role("heading", name="Ocean Data Licence")).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Accept").click()

    download = download_info.value
    assert download.suggested_filename == "sst 2024-06-13.csv"
    saved = tmp_path / "downloaded.csv"
    download.save_as(saved)
    assert md5(saved.read_bytes()) == licensed_file.checksum
    acceptance = LicenseAcceptance.objects.get()
    assert (acceptance.user, acceptance.version) == (scientist, 1)

    # The account page counts the download and shows the licence accepted.
    page.goto(server + "/account")
    expect(page.get_by_role("heading", name="marie@example.org")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"^downloads 1 "))).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text="Ocean Data Licence")).to_contain_text(
        "accepted"
    )
    record = wait_until(finished_records().first)  # written when the response has closed
    assert (record.user, record.outcome, record.bytes_sent) == (
        scientist,
        "COMPLETED",
        len(CONTENT),
    )

    # A token from the account page works with curl.
    page.get_by_role("button", name="Create an API token").click()
    token = page.locator("pre").inner_text().strip()
    assert token
    output = tmp_path / "curl.csv"
    curl = [external("curl"), "--silent", "--show-error", "--fail", "--output", str(output)]
    subprocess.run(
        [*curl, "--header", f"Authorization: Bearer {token}", link],
        check=True,
        timeout=DEADLINE,
    )
    assert hashlib.md5(output.read_bytes()).hexdigest() == licensed_file.checksum
    assert wait_until(lambda: finished_records().filter(user=scientist).count() == 2)
