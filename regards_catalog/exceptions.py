"""The errors every app shares (and the token endpoint's), with their stable codes."""

from django.conf import settings
from rest_framework import exceptions, status


class ApiError(exceptions.APIException):
    """Base for domain errors; `extra` is merged into the JSON body."""

    def __init__(self, message=None, *, extra=None, headers=None):
        super().__init__(detail=message or self.default_detail, code=self.default_code)
        self.extra = extra or {}
        self.headers = headers or {}


class InvalidRequest(ApiError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_request"
    default_detail = "The request is malformed."


class NotFound(ApiError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"
    default_detail = "Not found."


class Forbidden(ApiError):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "forbidden"
    default_detail = "You do not have access to this resource."


class LoginRequired(ApiError):
    """Access denied to an anonymous caller: 401, since logging in may help; same code as 403."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "forbidden"
    default_detail = "Log in or give a token to access this resource."


def access_denied(user):
    """The error for a caller without access: 403, or 401 when anonymous (SPEC §4 check 3)."""
    return Forbidden() if user.is_authenticated else LoginRequired()


class InvalidToken(exceptions.AuthenticationFailed):
    """A bad, expired or unusable credential: a 401, never a silent anonymous call."""

    default_code = "invalid_token"
    default_detail = "The token is invalid or has expired."


class InvalidGrant(ApiError):
    status_code = 400
    default_code = "invalid_grant"
    default_detail = "Unknown email or wrong password."


class UnsupportedGrantType(ApiError):
    status_code = 400
    default_code = "unsupported_grant_type"
    default_detail = "Only grant_type=password is supported."


class InvalidScope(ApiError):
    status_code = 400
    default_code = "invalid_scope"

    @property
    def default_detail(self):
        return f"The scope is the project name, {settings.PROJECT_NAME!r}."


class TooManyLoginAttempts(ApiError):
    """A login refused without checking the password: its account or address has used up
    its failed logins (regards_catalog.throttling)."""

    status_code = 429
    default_code = "too_many_login_attempts"
    default_detail = "Too many failed logins for this account or from this address."

    def __init__(self, *, retry_after):
        super().__init__(
            f"{self.default_detail} Try again in {retry_after} seconds.",
            extra={"retryAfter": retry_after},
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after
