"""Plain helpers of the browser tests (their fixtures are in conftest.py)."""

import json
import pathlib

# axe-core, installed by `npm ci` in this folder (make install).
AXE = pathlib.Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
# The password of every `person` of the browser tests.
PASSWORD = "a browser password"


def log_in(page, user):
    """Fill in the login form the page shows, as a person does."""
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def axe_violations(page, axe_script):
    """axe-core's serious and critical violations on the page, as printable lines."""
    page.add_script_tag(path=str(axe_script))
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['impact']}: {violation['id']} ({violation['help']}) at "
        + json.dumps([node["target"] for node in violation["nodes"]])
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
