from regards_catalog.errors import error_response


class RejectNulCharactersMiddleware:
    """400 for a NUL character in the path, the query or the Authorization header.

    No id, token or search contains one, and PostgreSQL refuses NUL in text parameters:
    without this, such a request would reach a query and fail with a 500.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            "\x00" in request.path
            or any("\x00" in key or "\x00" in value for key, value in _query_items(request))
            or "\x00" in request.headers.get("Authorization", "")
        ):
            return error_response(
                request, 400, "invalid_request", "The request contains a NUL character."
            )
        return self.get_response(request)


def _query_items(request):
    for key, values in request.GET.lists():
        for value in values:
            yield key, value
