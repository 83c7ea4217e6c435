"""RequestTurnsMiddleware: at most REQUEST_CONCURRENCY requests of a process run at once,
the others wait their turn, first come first served, or go ahead after
REQUEST_TURN_WAIT_MS."""

import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import StreamingHttpResponse
from django.test import RequestFactory

from regards_catalog.middleware import RequestTurnsMiddleware, Turns
from regards_catalog.settings import env_int

DEADLINE = 30  # seconds: only reached when the code under test is broken


class HeldView:
    """A view that holds every request until `release` is set, counting how many run."""

    def __init__(self):
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.most_running = 0
        self.entered = threading.Semaphore(0)

    def __call__(self, request):
        with self.lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        self.entered.release()
        try:
            assert self.release.wait(DEADLINE)
        finally:
            with self.lock:
                self.running -= 1
        return "answered"


def in_threads(middleware, count):
    answers = []
    threads = [
        threading.Thread(target=lambda: answers.append(middleware(RequestFactory().get("/"))))
        for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    return threads, answers


def test_no_more_requests_run_at_once_than_the_setting_allows(settings):
    settings.REQUEST_CONCURRENCY = 2
    settings.REQUEST_TURN_WAIT_MS = DEADLINE * 1000
    view = HeldView()
    middleware = RequestTurnsMiddleware(view)

    threads, answers = in_threads(middleware, 5)
    try:
        for _ in range(2):
            assert view.entered.acquire(timeout=DEADLINE)
        # Three threads wait for a turn: none enters while the two hold theirs.
        assert not view.entered.acquire(timeout=0.2)
        assert view.running == 2
    finally:
        view.release.set()
        for thread in threads:
            thread.join(DEADLINE)

    assert answers == ["answered"] * 5
    assert view.most_running == 2


def test_a_request_that_waited_too_long_goes_ahead(settings):
    settings.REQUEST_CONCURRENCY = 1
    settings.REQUEST_TURN_WAIT_MS = 50
    view = HeldView()
    middleware = RequestTurnsMiddleware(view)

    first, _ = in_threads(middleware, 1)
    try:
        assert view.entered.acquire(timeout=DEADLINE)
        # The first holds the only turn: the second runs anyway after 50 ms.
        second, _ = in_threads(middleware, 1)
        assert view.entered.acquire(timeout=DEADLINE)
        assert view.running == 2
    finally:
        view.release.set()
        for thread in first + second:
            thread.join(DEADLINE)

    # The one that went ahead gave back no turn it did not have: one turn, free again.
    assert middleware.turns.acquire(blocking=False)
    assert not middleware.turns.acquire(blocking=False)


def test_a_request_that_fails_gives_its_turn_back(settings):
    settings.REQUEST_CONCURRENCY = 1

    def failing(request):
        raise RuntimeError("the view failed")

    middleware = RequestTurnsMiddleware(failing)
    with pytest.raises(RuntimeError):
        middleware(RequestFactory().get("/"))

    assert middleware.turns.acquire(blocking=False)


def test_the_bytes_go_out_after_the_turn(settings):
    """A streamed answer is read after the middleware returned: a long download holds a
    thread, not a turn."""
    settings.REQUEST_CONCURRENCY = 1
    free_while_streaming = []

    def body():
        free = middleware.turns.acquire(blocking=False)
        if free:
            middleware.turns.release()
        free_while_streaming.append(free)
        yield b"bytes"

    middleware = RequestTurnsMiddleware(lambda request: StreamingHttpResponse(body()))
    response = middleware(RequestFactory().get("/"))

    assert b"".join(response.streaming_content) == b"bytes"
    assert free_while_streaming == [True]


def wait_until(condition):
    pause = threading.Event()
    for _ in range(DEADLINE * 1000):
        if condition():
            return
        pause.wait(0.001)
    raise AssertionError("not reached before the deadline")


def test_a_freed_turn_goes_to_the_thread_that_waited_longest():
    turns = Turns(1)
    assert turns.acquire()
    order, proceed = [], threading.Event()

    def wait_for_a_turn(name):
        assert turns.acquire(timeout=DEADLINE)
        order.append(name)
        assert proceed.wait(DEADLINE)
        turns.release()

    threads = []
    for name in ["first", "second", "third"]:
        threads.append(threading.Thread(target=wait_for_a_turn, args=(name,)))
        threads[-1].start()
        wait_until(lambda: len(turns.waiting) == len(threads))  # queued before the next
    try:
        turns.release()
        wait_until(lambda: order == ["first"])
        # The turn went to the first in the queue, not to a thread that just arrived.
        assert not turns.acquire(blocking=False)
    finally:
        proceed.set()
        for thread in threads:
            thread.join(DEADLINE)

    assert order == ["first", "second", "third"]


def test_a_waiter_that_gives_up_leaves_the_queue():
    turns = Turns(1)
    assert turns.acquire()

    assert not turns.acquire(timeout=0.01)

    assert len(turns.waiting) == 0
    turns.release()
    assert turns.acquire(blocking=False)


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_a_worker_without_turns_fails_loudly(monkeypatch, value):
    monkeypatch.setenv("REQUEST_CONCURRENCY", value)

    with pytest.raises(ImproperlyConfigured, match="REQUEST_CONCURRENCY"):
        env_int("REQUEST_CONCURRENCY", 2, minimum=1)
