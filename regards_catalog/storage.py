"""The storage locations of this deployment (settings → storage_client), built once."""

import functools

from django.conf import settings
from django.core import checks
from django.core.signals import setting_changed

from storage_client import StorageConfigError, StorageUnavailable, load_locations


@functools.cache
def locations():
    return load_locations(settings.STORAGE_CONFIG, settings.STORAGE_DEFAULT_ROOT)


def get_location(name):
    """The location called `name`, or None when this deployment has none by that name."""
    return locations().get(name)


def _reset(setting, **kwargs):
    if setting in ("STORAGE_CONFIG", "STORAGE_DEFAULT_ROOT"):
        locations.cache_clear()


setting_changed.connect(_reset)


@checks.register("storage")
def check_locations(**kwargs):
    """At start-up (`manage.py check`, `migrate`, `runserver`, `process_restores`): the
    storage config loads, and each location takes its credentials (an s3 one asks its
    bucket, once). A refusal is an error naming the location; an unreachable storage only
    a warning, since it may come back before the first download."""
    try:
        found = locations()
    except ValueError as error:
        return [checks.Error(str(error), id="storage.E001")]
    problems = []
    for location in found.values():
        try:
            location.check()
        except StorageConfigError as error:
            problems.append(checks.Error(str(error), id="storage.E002"))
        except StorageUnavailable as error:
            problems.append(checks.Warning(str(error), id="storage.W001"))
    return problems
