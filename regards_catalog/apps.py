from django.apps import AppConfig


class RegardsCatalogConfig(AppConfig):
    """The project package is an app too: authentication keeps its login throttle here."""

    name = "regards_catalog"
    verbose_name = "Authentication"

    def ready(self):
        # Registers the storage locations' start-up check.
        from regards_catalog import storage  # noqa: F401
