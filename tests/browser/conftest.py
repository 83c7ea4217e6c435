"""A real browser (Debian's chromium, driven by Playwright) against the app under gunicorn.

Playwright's own browser download cannot work here: it drives the system chromium through
`executable_path`. Each person of a test gets their own browser context (their own
cookies); when a test fails, each of their pages is saved as a screenshot and its HTML in
the test's tmp_path, and the paths are printed.
"""

import contextlib
import os
import shutil

import psutil
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from playwright.sync_api import expect, sync_playwright

from tests.browser.helpers import AXE, PASSWORD, log_in
from tests.factories import UserFactory
from tests.gunicorn import gunicorn_serving
from tests.processes import STOP_TIMEOUT

# Deadline of Playwright's auto-waiting and expect(): far beyond what a page takes here.
TIMEOUT_MS = 20_000


def missing(what):
    """Skip for want of `what`, or fail under REQUIRE_EXTERNALS=1 (CI must run these)."""
    if os.environ.get("REQUIRE_EXTERNALS") == "1":
        pytest.fail(f"{what}, and REQUIRE_EXTERNALS=1 forbids skipping", pytrace=False)
    pytest.skip(what)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item (item.report_call...), for `new_page` to see
    whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def browser():
    """One chromium per test module. Not per session: while Playwright runs, its event loop
    counts as running in this thread, so that other tests' ORM calls in this process would
    be refused as async-unsafe. Within this module the tests call the ORM between browser
    steps, never inside the loop, so the check is switched off for the module only."""
    chromium = shutil.which("chromium")
    if chromium is None:
        missing("chromium not installed (apt-get install chromium)")
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=chromium)
        yield browser
        browser.close()
    reap_chromium_helpers()


def reap_chromium_helpers():
    """chromium's helpers (crashpad handler, zygote) outlive it as orphans, handed to this
    process, the subreaper (tests/processes.py): wait for them to end, which also reaps
    them. Left as zombies, they would be among the children other tests look through."""
    helpers = []
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if child.name().startswith("chrom"):
                helpers.append(child)
    psutil.wait_procs(helpers, timeout=STOP_TIMEOUT)


@pytest.fixture
def new_page(browser, request, tmp_path):
    """new_page() → a page in a new browser context: a person with their own cookies."""
    contexts = []

    def make():
        context = browser.new_context(accept_downloads=True)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        save_pages(contexts, tmp_path)
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def save_pages(contexts, folder):
    """A screenshot and the HTML of every open page, for the reader of a failed test."""
    for number, page in enumerate(page for context in contexts for page in context.pages):
        screenshot, html = folder / f"page-{number}.png", folder / f"page-{number}.html"
        with contextlib.suppress(Exception):  # a crashed page must not hide the failure
            page.screenshot(path=screenshot, full_page=True)
            html.write_text(page.content())
        print(f"page {number} ({page.url}): screenshot {screenshot}, HTML {html}")


@pytest.fixture(scope="module")
def storage_root(tmp_path_factory):
    """The folder of the `storage` locations, for the whole module, as its server reads
    them (this process's own process_restores fills the cache the server serves from)."""
    return tmp_path_factory.mktemp("storage")


@pytest.fixture(scope="module")
def module_server(django_db_setup, storage_root, tmp_path_factory):
    """One gunicorn per test module: starting one costs seconds on a busy machine, and
    each test's data is in the database (emptied after each test) and in `storage_root`,
    both of which it reads afresh at every request. One worker is enough for a browser;
    cookies without the Secure flag, the site being plain http."""
    nearline = {
        "backend": "local",
        "root": str(storage_root / "nearline"),
        "tier": "nearline",
        "cache": str(storage_root / "cache"),
    }
    folder = tmp_path_factory.mktemp("gunicorn")
    environment = {"WORKERS": "1", "THREADS": "8", "SECURE_COOKIES": "0"}
    with gunicorn_serving(storage_root, folder, {"nearline": nearline}, **environment) as url:
        yield url


@pytest.fixture
def server(module_server, transactional_db, storage):
    """The URL of the app under gunicorn, on this test's data (a transactional test: the
    server, another process, sees what the test writes)."""
    expect.set_options(timeout=TIMEOUT_MS)
    return module_server


@pytest.fixture
def person(transactional_db):
    """person(**UserFactory fields) → a user who logs in with PASSWORD on the server.

    gunicorn runs with the production password hashers, which do not read the tests' fast
    MD5 hashes: the password is hashed with PBKDF2 at few iterations (the count is stored
    in the hash, so the server checks it at that cost too)."""

    def make(**fields):
        salt = PBKDF2PasswordHasher().salt()
        password = PBKDF2PasswordHasher().encode(PASSWORD, salt, iterations=1000)
        user = UserFactory(**fields)
        user.password = password
        user.save(update_fields=["password"])
        return user

    return make


@pytest.fixture
def steward_page(server, new_page, person):
    """A browser where a data steward has logged in to the admin."""
    page = new_page()
    page.goto(server + "/admin/")
    log_in(page, person(steward=True))
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    return page


@pytest.fixture(scope="session")
def axe_script():
    if not AXE.exists():
        missing(f"{AXE} missing: run `npm ci` in {AXE.parents[2]} (make install does)")
    return AXE
