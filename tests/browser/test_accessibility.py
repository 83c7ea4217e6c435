"""axe-core finds no serious or critical accessibility violation on the pages people use:
login, licence, account, and the error pages of refused downloads."""

import pytest

from products.models import AccessRight
from tests.browser.helpers import axe_violations, log_in
from tests.factories import LicenseFactory
from tests.helpers import download_url

pytestmark = pytest.mark.django_db(transaction=True)


def assert_accessible(page, axe_script):
    violations = axe_violations(page, axe_script)
    assert not violations, f"{page.url}:\n" + "\n".join(violations)


def test_the_pages_people_use_have_no_serious_accessibility_violation(
    axe_script, server, page, person, stored_file
):
    license = LicenseFactory(title="Ocean Data Licence", text="Cite the mission.\n\nShare alike.")
    licensed = stored_file(filename="licensed.csv")
    licensed.product.dataset.license = license
    licensed.product.dataset.save(update_fields=["license"])
    members_only = stored_file(filename="members.csv", file_access=AccessRight.FileAccess.NO_ACCESS)
    nearline = stored_file(filename="scene.raw", location="nearline")
    missing = download_url(licensed).replace(licensed.checksum, "0" * 32)

    # Anonymous: the refusals, the licence page asking to log in, the login page.
    for url, status in [
        (download_url(licensed), 423),
        (download_url(members_only), 403),
        (missing, 404),
        (download_url(nearline), 409),
        (f"/licenses/{license.slug}", 200),
        ("/accounts/login/", 200),
    ]:
        assert page.goto(server + url).status == status, url
        assert_accessible(page, axe_script)

    # Logged in: the licence page with its Accept button, the account page with a token.
    log_in(page, person())
    page.goto(server + f"/licenses/{license.slug}")
    assert_accessible(page, axe_script)
    page.goto(server + "/account")
    page.get_by_role("button", name="Create an API token").click()
    page.get_by_role("heading", name="API token").wait_for()
    assert_accessible(page, axe_script)
    page.goto(server + download_url(members_only))  # 403 for this user too
    assert_accessible(page, axe_script)
