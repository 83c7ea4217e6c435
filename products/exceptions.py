"""Search errors with their stable codes."""

from rest_framework import status

from regards_catalog.exceptions import ApiError


class InvalidQuery(ApiError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_query"
    default_detail = "The query is malformed."

    def __init__(self, message=None, *, position=None):
        super().__init__(message, extra={"position": position})
