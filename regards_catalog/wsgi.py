import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "regards_catalog.settings")
application = get_wsgi_application()

# Django imports the URLconf, and with it every view module (the CQL2 parser takes a second
# to build), on the first request. Importing it here, in each worker as it boots, keeps
# that second out of a user's request and off a freshly forked worker under load.
get_resolver().url_patterns  # noqa: B018 - the access is what loads it

# What a worker loaded at boot (Django, the views, the grammar: about 180,000 objects) lives
# as long as the worker: out of the garbage collector's reach, its full collections no
# longer walk it. One took 83 ms, every request of the worker waiting, against 10 ms
# frozen (README, "Threads and turns").
gc.collect()
gc.freeze()
