"""Signed download links with clients that cannot send a token header: wget and curl
fetch a link made through the API from a real gunicorn, and the download counts for the
link's user."""

import hashlib
import os
import subprocess

import pytest
import requests

from downloads.models import DownloadRecord, Quota
from tests.factories import AccessGroupFactory, AccessRightFactory, UserFactory
from tests.helpers import download_url, external, finished_records
from tests.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

CONTENT = os.urandom(3 * 1024 * 1024 + 17)


@pytest.fixture
def member_file(stored_file, token_for):
    """A private file only one user may download, and that user's token header."""
    data_file = stored_file(CONTENT, filename="scene one.tif", file_access="NO_ACCESS")
    user = UserFactory()
    AccessRightFactory(group=AccessGroupFactory(members=[user]), dataset=data_file.product.dataset)
    return data_file, user, {"Authorization": f"Bearer {token_for(user)}"}


def signed_link(base, data_file, headers):
    response = requests.post(base + download_url(data_file) + "/link", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["url"]


@pytest.mark.parametrize(
    "client_command",
    [
        pytest.param(lambda url, path: [external("wget"), "-q", "-O", path, url], id="wget"),
        pytest.param(lambda url, path: [external("curl"), "-sSf", "-o", path, url], id="curl"),
    ],
)
def test_a_client_without_a_token_downloads_through_a_signed_link(
    gunicorn, member_file, tmp_path, client_command
):
    data_file, user, headers = member_file
    url = signed_link(gunicorn, data_file, headers)
    assert url.startswith(gunicorn)
    output = tmp_path / "downloaded"

    subprocess.run(client_command(url, output), check=True, timeout=120)

    assert hashlib.md5(output.read_bytes()).hexdigest() == data_file.checksum
    record = wait_until(finished_records().first)
    assert (record.user_id, record.outcome) == (user.pk, DownloadRecord.Outcome.COMPLETED)
    assert Quota.objects.get(user=user).current_quota == 1


def test_a_tampered_link_is_refused_by_gunicorn_with_a_json_error(gunicorn, member_file):
    data_file, _, headers = member_file
    url = signed_link(gunicorn, data_file, headers)
    response = requests.get(url.replace("expires=", "expires=1"), timeout=30)
    assert response.status_code == 403
    assert response.json()["code"] == "link_invalid"
    assert not DownloadRecord.objects.exists()
