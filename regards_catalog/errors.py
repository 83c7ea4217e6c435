"""One error shape for the whole API: `{"code", "message", "messages", ...details}`.

Domain errors are `ApiError` subclasses with a stable `default_code`, in each app's
`exceptions.py`; everything DRF or Django raises is translated here, so no client ever
sees a different shape.
"""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpResponse, JsonResponse
from rest_framework import exceptions
from rest_framework.views import exception_handler

from regards_catalog.exceptions import ApiError, Forbidden, NotFound
from regards_catalog.renderers import error_page

logger = logging.getLogger(__name__)


# DRF's own exceptions keep their status; their codes are renamed to ours.
DRF_CODES = {
    exceptions.ParseError: "invalid_request",
    exceptions.ValidationError: "invalid_request",
    exceptions.AuthenticationFailed: "invalid_token",
    exceptions.NotAuthenticated: "authentication_required",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}


def error_body(code, message, **extra):
    """`messages` holds the message again, as REGARDS's error bodies list theirs."""
    return {"code": code, "message": message, "messages": [message], **extra}


def api_exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = Forbidden()
    response = exception_handler(exc, context)
    if response is None:
        return None  # a real bug: Django's 500 handler answers (JSON, see server_error)
    if isinstance(exc, ApiError):
        body = error_body(exc.default_code, str(exc.detail), **exc.extra)
        for name, value in exc.headers.items():
            response[name] = value
    else:
        code = next((c for cls, c in DRF_CODES.items() if isinstance(exc, cls)), "error")
        body = error_body(code, _message(exc.detail))
        if isinstance(exc, exceptions.ValidationError):
            body["errors"] = exc.detail
    if response.status_code == 401 and "WWW-Authenticate" not in response:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    response.data = body
    return response


def _message(detail):
    """A one-sentence message from DRF's detail, which may be a list or dict."""
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()), ("", ""))
        return f"{field}: {_message(value)}" if field != "non_field_errors" else _message(value)
    if isinstance(detail, list):
        return _message(detail[0]) if detail else "Invalid input."
    return str(detail)


def wants_html(request):
    """True when the client prefers HTML to JSON (chosen by Accept, never by User-Agent)."""
    accept = request.META.get("HTTP_ACCEPT", "")
    return "text/html" in accept and accept.find("text/html") < _first_json(accept)


def _first_json(accept):
    position = accept.find("application/json")
    return position if position >= 0 else len(accept) + 1


def error_response(request, status_code, code, message, **extra):
    """An error outside DRF views (Django's 404/500 handlers, plain views)."""
    body = error_body(code, message, **extra)
    if wants_html(request):
        html = error_page(request, body, status_code)
        return HttpResponse(html, status=status_code, content_type="text/html; charset=utf-8")
    return JsonResponse(body, status=status_code)


def page_not_found(request, exception=None):
    return error_response(request, 404, "not_found", "Not found.")


def server_error(request):
    return error_response(request, 500, "server_error", "An unexpected error happened.")


def bad_request(request, exception=None):
    """Django's answer to a SuspiciousOperation, raised by any view or middleware; reading
    a body larger than DATA_UPLOAD_MAX_MEMORY_SIZE is one, and deserves its own status."""
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        message = f"The request body is larger than {limit} bytes."
        return error_response(request, 413, "request_too_large", message)
    return error_response(request, 400, "invalid_request", "The request is malformed.")


def permission_denied(request, exception=None):
    return error_response(request, 403, "forbidden", "You do not have access to this resource.")
