"""A refused download, in a browser: a page with the reason and the next step, which works."""

import pytest
from playwright.sync_api import expect

from downloads.models import QuotaDefaults, RestoreRequest
from products.models import AccessRight
from tests.browser.helpers import log_in
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    QuotaFactory,
    RunningDownloadFactory,
)
from tests.helpers import download_url, md5, run_command

pytestmark = pytest.mark.django_db(transaction=True)


def assert_html_page(response, status):
    assert response.status == status
    assert response.headers["content-type"].startswith("text/html")


def downloaded_bytes(download, tmp_path):
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    return path.read_bytes()


def test_403_sends_an_anonymous_visitor_to_log_in_then_the_download_starts(
    server, page, person, stored_file, tmp_path
):
    data_file = stored_file(
        b"for members\n", filename="members.txt", file_access=AccessRight.FileAccess.NO_ACCESS
    )
    member = person()
    group = AccessGroupFactory(members=[member])
    AccessRightFactory(group=group, dataset=data_file.product.dataset)

    assert_html_page(page.goto(server + download_url(data_file)), 403)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "You may see this product but not download its files."
    )
    page.get_by_role("link", name="Log in").click()
    with page.expect_download() as download:
        log_in(page, member)

    assert download.value.suggested_filename == "members.txt"
    assert md5(downloaded_bytes(download.value, tmp_path)) == data_file.checksum


def test_404_says_which_file_is_missing_and_where_to_look(server, page, stored_file):
    data_file = stored_file()
    missing = "0" * 32

    response = page.goto(server + download_url(data_file).replace(data_file.checksum, missing))

    assert_html_page(response, 404)
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"no file with checksum {missing}")
    page.get_by_role("link", name="The API documentation").click()
    expect(page).to_have_url(server + "/api/v1/docs")


def test_409_offers_a_restore_then_503_says_when_to_try_again_then_it_downloads(
    server, page, stored_file, tmp_path
):
    content = b"an archived radar scene\n"
    data_file = stored_file(content, filename="scene.raw", location="nearline")
    link = server + download_url(data_file)

    assert_html_page(page.goto(link), 409)
    expect(page.get_by_role("heading", level=1)).to_contain_text("nearline")
    with page.expect_response(link) as back_to_the_download:
        page.get_by_role("button", name="Restore this file").click()

    # The restore is queued, and the browser is back on the download: being restored.
    assert_html_page(back_to_the_download.value, 503)
    assert back_to_the_download.value.headers["retry-after"] == "60"
    expect(page).to_have_url(link)
    expect(page.get_by_text("Try again in 60 seconds")).to_be_visible()
    restore = RestoreRequest.objects.get()
    assert (restore.data_file, restore.status) == (data_file, RestoreRequest.Status.PENDING)

    run_command("process_restores", "--once")
    with page.expect_download() as download:
        page.get_by_role("link", name="try again").click()
    assert downloaded_bytes(download.value, tmp_path) == content


def test_429_rate_limited_says_when_to_try_again_then_it_downloads(
    server, page, stored_file, tmp_path
):
    data_file = stored_file(b"popular\n", filename="popular.txt")
    defaults = QuotaDefaults.current()
    defaults.rate_limit = 1
    defaults.save()
    # This address's one slot is taken by a download still running.
    running = RunningDownloadFactory(quota=QuotaFactory(client_address="127.0.0.1"))

    assert_html_page(page.goto(server + download_url(data_file)), 429)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Too many simultaneous downloads")
    expect(page.get_by_text("Try again in 10 seconds")).to_be_visible()

    running.lease_expires = None  # it has finished
    running.save(update_fields=["lease_expires"])
    with page.expect_download() as download:
        page.get_by_role("link", name="try again").click()
    assert downloaded_bytes(download.value, tmp_path) == b"popular\n"
