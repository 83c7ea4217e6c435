"""Baseline of the small-file benchmark: a bare Django view answering a FileResponse.

No apps, no middleware, no database: what Django alone costs to send a file. The small-file
benchmark (bench/benchmarks/small.py) serves it with the project's gunicorn.conf.py (same
workers and threads as the catalog); BARE_FILE names the file to send.
"""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import FileResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
)


def download(request):
    return FileResponse(open(os.environ["BARE_FILE"], "rb"), as_attachment=True)  # noqa: SIM115


urlpatterns = [path("file", download)]
application = get_wsgi_application()
