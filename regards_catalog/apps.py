from django.apps import AppConfig


class RegardsCatalogConfig(AppConfig):
    """The project package is an app too: authentication keeps its login throttle here."""

    name = "regards_catalog"
    verbose_name = "Authentication"
