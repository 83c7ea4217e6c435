"""Fixtures of the search tests (legacy, OpenSearch, STAC, facets)."""

import pytest

from tests.factories import AccessRightFactory, DatasetFactory


@pytest.fixture
def search_links(storage, settings):
    """The default locations under a temporary folder, and links built from the request
    (http://testserver/…) rather than from PUBLIC_BASE_URL."""
    settings.PUBLIC_BASE_URL = ""


@pytest.fixture
def open_dataset(public_group):
    """A dataset every caller sees, files included."""
    dataset = DatasetFactory(label="Open")
    AccessRightFactory(group=public_group, dataset=dataset)
    return dataset
