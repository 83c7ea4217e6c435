"""Imports run one way: downloads → products → regards_catalog → storage_client.

A module may import its own package and the packages below it, never one above: a
reader then finds each rule in one place, and the lower layers stay usable alone.
"""

import ast
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
LAYERS = ["downloads", "products", "regards_catalog", "storage_client"]  # top first
FIRST_PARTY = set(LAYERS)


def imported_packages(path):
    """The top-level package of every import in a module (function-level ones too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno


def modules(package):
    return sorted((ROOT / package).rglob("*.py"))


def test_the_layers_list_every_first_party_package():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages == FIRST_PARTY


@pytest.mark.parametrize("package", LAYERS)
def test_a_package_imports_only_itself_and_the_layers_below(package):
    allowed = set(LAYERS[LAYERS.index(package) :])
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {imported}"
        for path in modules(package)
        for imported, line in imported_packages(path)
        if imported in FIRST_PARTY and imported not in allowed
    ]
    assert upward == []


def test_storage_client_imports_no_django():
    """storage_client is a plain library: the standard library, itself, requests and boto3."""
    allowed = {"storage_client", "requests", "urllib3", "boto3", "botocore"}
    outside = [
        f"{path.relative_to(ROOT)}:{line} imports {imported}"
        for path in modules("storage_client")
        for imported, line in imported_packages(path)
        if imported not in sys.stdlib_module_names | allowed
    ]
    assert outside == []
