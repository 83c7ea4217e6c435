from django.template.loader import render_to_string
from rest_framework.renderers import BaseRenderer, JSONRenderer


class HTMLPageRenderer(BaseRenderer):
    """For browsers (Accept: text/html): errors as a readable page, data as formatted JSON."""

    media_type = "text/html"
    format = "html"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        renderer_context = renderer_context or {}
        response = renderer_context.get("response")
        status_code = response.status_code if response is not None else 200
        is_error = status_code >= 400 and isinstance(data, dict) and "code" in data
        json_text = JSONRenderer().render(data, "application/json; indent=2").decode()
        return render_to_string(
            "error.html" if is_error else "api_page.html",
            {"error": data if is_error else None, "status": status_code, "json": json_text},
            renderer_context.get("request"),
        )
