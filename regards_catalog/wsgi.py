import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "regards_catalog.settings")
application = get_wsgi_application()

# Django imports the URLconf, and with it every view module (the CQL2 parser takes a second
# to build), on the first request. Importing it here, in each worker as it boots, keeps
# that second out of a user's request and off a freshly forked worker under load.
get_resolver().url_patterns  # noqa: B018 - the access is what loads it
