import threading

from django.conf import settings

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


class RequestTurnsMiddleware:
    """At most REQUEST_CONCURRENCY requests of a worker process run their Python and
    database work at once; its other threads wait for a turn, or go ahead after
    REQUEST_TURN_WAIT_MS so that a slow request (a storage slow to answer) never holds
    the others up for longer. The bytes of an answer go out after its turn, so a long
    download holds a thread but no turn.

    Why: every thread of a gthread worker contends for the one GIL, each with its own
    database connection. Eight threads running small downloads at once served no more than
    two, and the slowest waited twice as long (the GIL changing hands at every query): see
    README, "Threads and turns", and bench/report.md, §3.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.turns = threading.Semaphore(settings.REQUEST_CONCURRENCY)
        self.wait = settings.REQUEST_TURN_WAIT_MS / 1000

    def __call__(self, request):
        has_turn = self.turns.acquire(timeout=self.wait)
        try:
            return self.get_response(request)
        finally:
            if has_turn:
                self.turns.release()
