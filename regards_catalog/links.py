"""Absolute links to this site, for the URLs that answers carry."""

from django.conf import settings


def base_url(request):
    """`PUBLIC_BASE_URL`, or the scheme and host the request came to."""
    return settings.PUBLIC_BASE_URL or request.build_absolute_uri("/").rstrip("/")
