from datetime import timedelta

from django.template.loader import render_to_string
from django.utils import timezone
from rest_framework.renderers import BaseRenderer, JSONRenderer


def error_page(request, body, status_code, *, retry_after=None):
    """The HTML of an error for a browser: its reason and the next step (error.html picks
    it by code: log in, accept the licence, restore the file, try again at a time...)."""
    seconds = int(retry_after) if str(retry_after).isdigit() else None
    context = {
        "error": body,
        "status": status_code,
        "retry_after": seconds,
        "retry_at": None if seconds is None else timezone.now() + timedelta(seconds=seconds),
    }
    return render_to_string("error.html", context, request)


class HTMLPageRenderer(BaseRenderer):
    """For browsers (Accept: text/html): errors as a readable page, data as formatted JSON."""

    media_type = "text/html"
    format = "html"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        renderer_context = renderer_context or {}
        response = renderer_context.get("response")
        request = renderer_context.get("request")
        status_code = response.status_code if response is not None else 200
        if status_code >= 400 and isinstance(data, dict) and "code" in data:
            retry_after = response.get("Retry-After") if response is not None else None
            return error_page(request, data, status_code, retry_after=retry_after)
        json_text = JSONRenderer().render(data, "application/json; indent=2").decode()
        return render_to_string("api_page.html", {"json": json_text}, request)
