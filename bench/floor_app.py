"""The framework floor of the small-file benchmark: the project's own settings, middleware
and DRF, answering a FileResponse of the file with none of the download checks.

Two views, served by the project's gunicorn.conf.py like the catalog:
- /drf: a DRF APIView that authenticates nobody;
- /drf-token: the same view with the project's authentication, so a Bearer token costs
  what it costs on the download endpoint (one SELECT of the token and its user).

What they answer per second bounds what the download endpoint can reach on this machine
before it runs a single check (bench/benchmarks/small.py). FLOOR_FILE names the file.
"""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "regards_catalog.settings"
settings.ROOT_URLCONF = __name__  # this module's urlpatterns, below
application = get_wsgi_application()  # sets Django up: DRF can be imported from here on

from django.http import FileResponse  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.permissions import AllowAny, IsAuthenticated  # noqa: E402
from rest_framework.views import APIView  # noqa: E402


def file_response():
    return FileResponse(open(os.environ["FLOOR_FILE"], "rb"), as_attachment=True)  # noqa: SIM115


class Anonymous(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        return file_response()


class TokenAuthenticated(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return file_response()


urlpatterns = [path("drf", Anonymous.as_view()), path("drf-token", TokenAuthenticated.as_view())]
