from django.apps import AppConfig


class DownloadsConfig(AppConfig):
    name = "downloads"
    verbose_name = "Downloads"

    def ready(self):
        # Registers the check that the usage totals' days are the dashboard's days.
        from downloads import usage  # noqa: F401
