import collections
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
    two (a quarter fewer on a quiet machine), and the slowest waited twice as long (the GIL
    changing hands at every query): see README, "Threads and turns", and bench/report.md,
    §3.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.turns = Turns(settings.REQUEST_CONCURRENCY)
        self.wait = settings.REQUEST_TURN_WAIT_MS / 1000

    def __call__(self, request):
        has_turn = self.turns.acquire(timeout=self.wait)
        try:
            return self.get_response(request)
        finally:
            if has_turn:
                self.turns.release()


class Turns:
    """A semaphore that hands a freed turn to the thread that has waited longest.
    threading.Semaphore lets a thread that just arrived take it before the one it woke,
    which may then wait again, the whole REQUEST_TURN_WAIT_MS, and go ahead without a
    turn: the slowest requests of a busy worker were those."""

    def __init__(self, count):
        self.lock = threading.Lock()
        self.free = count
        self.waiting = collections.deque()  # an Event per waiting thread, oldest first

    def acquire(self, blocking=True, timeout=None):
        with self.lock:
            if self.free and not self.waiting:
                self.free -= 1
                return True
            if not blocking:
                return False
            handed = threading.Event()
            self.waiting.append(handed)
        if handed.wait(timeout):
            return True
        with self.lock:
            if handed.is_set():  # handed over as the wait ended: the turn is ours
                return True
            self.waiting.remove(handed)
            return False

    def release(self):
        with self.lock:
            if self.waiting:
                self.waiting.popleft().set()
            else:
                self.free += 1
