"""Login throttling: failed logins are limited per account and per client address.

A login first reserves one failure on both counters of the current window, by a conditional
UPDATE (`failures < limit`), and only then checks the password: under any concurrency, no
more than the limit of password checks can fail in a window, and a refused reservation
answers without checking the password at all. A successful login gives its reservation
back, so only failures count.

The counters live in the database, not in Django's cache: several app servers share one
PostgreSQL (SPEC §2), and a per-process or per-host cache would give each its own limit.
Windows are fixed slices of LOGIN_THROTTLE_SECONDS; a guesser may use the end of one and the
start of the next, so the worst burst is twice the limit, and the long-run rate the limit.
"""

import math
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from regards_catalog.exceptions import TooManyLoginAttempts
from regards_catalog.models import LoginFailureCount

Kind = LoginFailureCount.Kind
# Lower case may lengthen a name ("İ" becomes two characters): cut it to the column.
KEY_LENGTH = LoginFailureCount._meta.get_field("key").max_length


def attempt_login(*, username, address, authenticate):
    """authenticate() → a user or None, counted as a failure when None; refused with
    TooManyLoginAttempts, without calling it, once the account (`username`, in any case) or
    the client `address` has used up its failed logins in the current window."""
    now = timezone.now()
    window = _window_start(now)
    limits = [
        (Kind.ACCOUNT, username.lower()[:KEY_LENGTH], settings.LOGIN_FAILURES_PER_ACCOUNT),
        (Kind.ADDRESS, address or "unknown", settings.LOGIN_FAILURES_PER_ADDRESS),
    ]
    LoginFailureCount.objects.filter(window__lt=window).delete()
    LoginFailureCount.objects.bulk_create(
        [LoginFailureCount(kind=kind, key=key, window=window) for kind, key, _ in limits],
        ignore_conflicts=True,  # a parallel login may have created them
    )
    reserved = []
    for kind, key, limit in limits:
        counter = LoginFailureCount.objects.filter(kind=kind, key=key, window=window)
        if not counter.filter(failures__lt=limit).update(failures=F("failures") + 1):
            _give_back(reserved)  # this login checks nothing: it is no failure
            seconds = settings.LOGIN_THROTTLE_SECONDS - (now - window).total_seconds()
            raise TooManyLoginAttempts(retry_after=max(1, math.ceil(seconds)))
        reserved.append(counter)
    user = authenticate()
    if user is not None:
        # Only this login's reservation: clearing the account's failures would let a
        # guesser start afresh each time the owner's scripts log in.
        _give_back(reserved)
    return user


def _window_start(now):
    seconds = settings.LOGIN_THROTTLE_SECONDS
    return datetime.fromtimestamp(now.timestamp() // seconds * seconds, tz=UTC)


def _give_back(counters):
    for counter in counters:
        counter.update(failures=F("failures") - 1)
