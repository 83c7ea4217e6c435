"""The storage locations of this deployment (settings → storage_client), built once."""

import functools

from django.conf import settings
from django.core.signals import setting_changed

from storage_client import load_locations


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
