"""Absolute links to this site, for the URLs that answers carry."""

from django.conf import settings
from django.utils.http import url_has_allowed_host_and_scheme


def base_url(request):
    """`PUBLIC_BASE_URL`, or the scheme and host the request came to."""
    return settings.PUBLIC_BASE_URL or request.build_absolute_uri("/").rstrip("/")


def local_url(request, url):
    """`url` when it leads to a page of this site, else "": never to another site nor a
    script (a `next` link a page follows or redirects to)."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return ""
