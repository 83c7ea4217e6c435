"""Download quotas (SPEC §3 Quotas): the limits that apply, what counts, and the slots of
running downloads.

Counters change by conditional UPDATE or under the quota row's lock, never read in
Python then written back: several workers and hosts share these rows. A running
download's slot is its DownloadRecord's lease (`lease_expires`), renewed while it streams.
"""

import dataclasses
import functools
import logging
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Count, F, Q, Subquery
from django.utils import timezone

from downloads.exceptions import QuotaExceeded, RateLimited
from downloads.models import UNLIMITED, DownloadRecord, Quota, QuotaDefaults
from regards_catalog import sql
from regards_catalog.sql import Columns, column, table

logger = logging.getLogger(__name__)
ANONYMOUS_WITHOUT_ADDRESS = "0.0.0.0"
LIMITS = ("max_quota", "rate_limit", "max_volume")


@dataclasses.dataclass(frozen=True)
class Limits:
    """The limits that apply to one quota: its own where set, else the defaults."""

    max_quota: int
    rate_limit: int
    max_volume: int

    @classmethod
    def of(cls, quota, defaults=None):
        """`quota`'s limits; its defaults come with it when `quota_for` loaded it."""
        if defaults is None and hasattr(quota, "default_max_quota"):
            defaults = {name: getattr(quota, f"default_{name}") for name in LIMITS}
        elif defaults is None:
            defaults = vars(QuotaDefaults.current())
        elif not isinstance(defaults, dict):
            defaults = vars(defaults)
        return cls(
            *(
                defaults[name] if getattr(quota, name) is None else getattr(quota, name)
                for name in LIMITS
            )
        )


@dataclasses.dataclass(frozen=True)
class Claim:
    """What check 9 found for one download: the quota to take it from, and what it takes."""

    quota_id: int
    limits: Limits
    counts: bool  # whether this download adds to the download count
    length: int  # bytes reserved from the volume when it begins
    since: datetime  # the quota period the reservation belongs to


def quota_owner(user, address):
    """(field, value) naming the quota of a user, or of a client address for anonymous
    callers."""
    if user is not None:
        return "user_id", user.pk
    return "client_address", address or ANONYMOUS_WITHOUT_ADDRESS


def quota_for(*, user=None, address=None):
    """The quota row of a user, or of a client address for anonymous callers, with the
    default limits (one statement once the row exists; the download checks have it from
    `selectors.requested_file`)."""
    key, value = quota_owner(user, address)
    quota = _quota_with_defaults(key, value)
    if quota is None:
        Quota.objects.get_or_create(**{key: value})  # parallel creations: one row
        quota = _quota_with_defaults(key, value)
    return quota


_QUOTA_COLUMNS = Columns(Quota, "q")


def _quota_with_defaults(key, value):
    """The quota row whose `key` (user_id, client_address or id) is `value`, with the default
    limits, or None. Written by hand: every download reads it (see regards_catalog/sql.py)."""
    with connection.cursor() as cursor:
        sql.execute(cursor, quota_sql(key), [value])
        return quota_from_row(cursor.fetchone())


@functools.cache
def quota_sql(key, placeholder="%s"):
    """The SELECT of the quota whose `key` (user_id, client_address or id) is the parameter
    `placeholder`, with the default limits beside its columns (read by `quota_from_row`)."""
    defaults = ", ".join(
        f"COALESCE(d.{column(QuotaDefaults, name)}, {UNLIMITED}) AS default_{name}"
        for name in LIMITS
    )
    return (
        f"SELECT {_QUOTA_COLUMNS.sql}, {defaults} FROM {table(Quota)} q "
        f"LEFT JOIN {table(QuotaDefaults)} d ON d.id = 1 "
        f"WHERE q.{column(Quota, key)} = {placeholder}"
    )


def quota_from_row(row):
    """The Quota of a row of `quota_sql`'s columns, with its default limits
    (`default_max_quota`, … for `Limits.of`); None for no row, or NULLs in their place."""
    if row is None or row[0] is None:
        return None
    quota = _QUOTA_COLUMNS.instance(row[: len(_QUOTA_COLUMNS)])
    for name, value in zip(LIMITS, row[len(_QUOTA_COLUMNS) :], strict=True):
        setattr(quota, f"default_{name}", value)
    return quota


def counts_as_download(*, user, address, data_file, start):
    """A download of a RAWDATA file counts unless it is a resume: a range starting after
    byte 0 of a file the same caller already has a counted download of in the current
    quota period. Other private types (documents, AIPs, ...) count only towards the volume,
    as REGARDS counts only raw data towards maxQuota.

    Every record that took the quota (its `quota` set; refusals and failures before the
    first byte have none) was either counted itself or resumed one counted earlier in the
    same period, so "quota set and started >= quota.since" finds a counted download, also
    one whose worker died and whose bytes sent are unknown (closed by `slot_sweep`, its
    bytes charged in full). One EXISTS query, for ranged requests only.
    """
    if not data_file.is_raw_data:
        return False
    if start == 0:
        return True
    caller = {"user": user} if user is not None else {"user": None, "client_address": address}
    key, value = quota_owner(user, address)
    since = Quota.objects.filter(**{key: value}).values("since")
    resumed = DownloadRecord.objects.filter(
        **caller, data_file=data_file, quota__isnull=False, started__gte=Subquery(since)
    )
    return not resumed.exists()


def live_slots(quota, now=None):
    """The running downloads of a quota (a Quota or its id): the slots `rateLimit` counts."""
    return DownloadRecord.objects.filter(quota=quota, lease_expires__gt=now or timezone.now())


def live_slot_count(quota, now=None):
    """`live_slots(quota, now).count()`, by hand: every download of a rate-limited quota
    counts them twice."""
    quota_id = quota.pk if isinstance(quota, Quota) else quota
    with connection.cursor() as cursor:
        sql.execute(cursor, _live_slots_sql(), [quota_id, now or timezone.now()])
        return cursor.fetchone()[0]


@functools.cache
def _live_slots_sql():
    return (
        f"SELECT COUNT(*) FROM {table(DownloadRecord)} "
        f"WHERE {column(DownloadRecord, 'quota')} = %s "
        f"AND {column(DownloadRecord, 'lease_expires')} > %s"
    )


def _refuse_if_exhausted(quota, limits, *, counts, length, now):
    if counts and limits.max_quota != UNLIMITED and quota.current_quota >= limits.max_quota:
        raise QuotaExceeded(
            extra={"maxQuota": limits.max_quota, "currentQuota": quota.current_quota}
        )
    if limits.max_volume != UNLIMITED and quota.current_volume + length > limits.max_volume:
        remaining = max(limits.max_volume - quota.current_volume, 0)
        raise QuotaExceeded(
            f"This download needs {length} bytes and {remaining} are left of your download "
            "volume until the next reset: ask for a smaller range.",
            extra={
                "maxVolume": limits.max_volume,
                "currentVolume": quota.current_volume,
                "remainingVolume": remaining,
            },
        )
    _refuse_if_no_slot(quota.pk, limits, now)


def _refuse_if_no_slot(quota_id, limits, now):
    if limits.rate_limit != UNLIMITED and live_slot_count(quota_id, now) >= limits.rate_limit:
        raise RateLimited(
            extra={"rateLimit": limits.rate_limit},
            headers={"Retry-After": str(settings.RATE_LIMIT_RETRY_AFTER)},
        )


def quota_check(*, user, address, counts, length, quota=None):
    """Checks 9 and 9b, without taking anything; returns the Claim that `quota_take` takes
    once the storage has answered. `quota`: the caller's, when already read."""
    quota = quota or quota_for(user=user, address=address)
    limits = Limits.of(quota)
    _refuse_if_exhausted(quota, limits, counts=counts, length=length, now=timezone.now())
    return Claim(quota.pk, limits, counts, length, quota.since)


def quota_take(*, claim, record, lease=True):
    """Count the download (if it counts), reserve its bytes from the volume and write its
    `record` (unsaved): one conditional UPDATE, exact without a lock, as a parallel
    download that took the last of either makes it match no row, and then nothing is
    written. A download that holds a slot (`lease`) then checks the rate limit: the UPDATE
    holds the quota row's lock until the transaction ends, so no parallel download of
    this quota can take a slot in between.

    Without a rate limit to check, PostgreSQL writes both in one statement (see
    `sql.insert`), which spares the transaction's BEGIN and COMMIT round trips; the rate
    limit's count needs a statement of its own after the UPDATE, to see the slots taken
    while it waited for the lock.

    Called by `Transfer.begin` once the storage has answered: failures before that
    consume nothing.
    """
    limits = claim.limits
    update = _take_sql(
        limit_volume=limits.max_volume != UNLIMITED,
        limit_count=claim.counts and limits.max_quota != UNLIMITED,
    )
    params = {
        "quota": claim.quota_id,
        "counts": int(claim.counts),
        "length": claim.length,
        "volume_left": limits.max_volume - claim.length,
        "max_quota": limits.max_quota,
    }
    checks_slots = lease and limits.rate_limit != UNLIMITED
    if sql.writes_in_one_statement() and not checks_slots:
        if sql.insert(record, after_update=(update, params)) is None:
            _refuse_taken(claim)
        return record
    with transaction.atomic():
        with connection.cursor() as cursor:
            sql.execute(cursor, update, params)
            if cursor.rowcount != 1:
                _refuse_taken(claim)
        if checks_slots:
            _refuse_if_no_slot(claim.quota_id, limits, timezone.now())
        return sql.insert(record)


def _refuse_taken(claim):
    """A parallel download took the last of the count or the volume: say which."""
    quota = _quota_with_defaults("id", claim.quota_id)
    _refuse_if_exhausted(
        quota, claim.limits, counts=claim.counts, length=claim.length, now=timezone.now()
    )
    raise QuotaExceeded()


@functools.cache
def _take_sql(*, limit_volume, limit_count):
    """The conditional UPDATE of `quota_take` (written by hand: every download runs it)."""
    current_quota, current_volume = column(Quota, "current_quota"), column(Quota, "current_volume")
    conditions = ["id = %(quota)s"]
    if limit_volume:
        conditions.append(f"{current_volume} <= %(volume_left)s")
    if limit_count:
        conditions.append(f"{current_quota} < %(max_quota)s")
    return (
        f"UPDATE {table(Quota)} SET {current_quota} = {current_quota} + %(counts)s, "
        f"{current_volume} = {current_volume} + %(length)s WHERE {' AND '.join(conditions)}"
    )


def volume_give_back(*, claim, bytes_sent):
    """End of a download: give back the reserved bytes that were not sent."""
    unsent = claim.length - bytes_sent
    if unsent > 0:
        # A reset since the download began zeroed the reservation with the rest: nothing
        # to give back then, or the new period would start below zero.
        Quota.objects.filter(pk=claim.quota_id, since=claim.since).update(
            current_volume=F("current_volume") - unsent
        )


def slot_sweep(now=None):
    """Close the downloads whose lease ran out (their worker died: nobody renews it) as
    ABORTED, which frees their slots; returns how many were closed.

    Their reserved volume is kept: how much was sent is unknown, and a quota must never
    undercharge.
    """
    now = now or timezone.now()
    expired = DownloadRecord.objects.filter(
        lease_expires__lte=now, outcome=DownloadRecord.Outcome.IN_PROGRESS
    )
    # One record per UPDATE, as a download ending closes its own: the usage triggers then
    # lock the totals rows of one record at a time, in the order every download takes
    # them. One UPDATE of many records would take them in row order, and could deadlock
    # with a download ending meanwhile.
    closed = 0
    for pk in expired.values_list("pk", flat=True):
        closed += expired.filter(pk=pk).update(
            outcome=DownloadRecord.Outcome.ABORTED,
            error="the worker serving it stopped; closed when its lease ran out",
            ended=now,
            lease_expires=None,
        )
    return closed


def quota_reset(*, quotas, dry_run=False):
    """Zero the counters of `quotas` (a queryset); returns their state before the reset.

    One UPDATE: downloads counted meanwhile are either before or after it, never lost
    half-way; live slots are left alone (they are running downloads, not usage).
    """
    before = list(quotas.select_related("user").order_by("id"))
    if not dry_run:
        quotas.update(current_quota=0, current_volume=0, since=timezone.now())
    return before


def quota_usage(quotas):
    """Annotate quotas with their live slot count (`current_rate`)."""
    live = Q(records__lease_expires__gt=timezone.now())
    return quotas.annotate(current_rate=Count("records", filter=live))


def quota_limits_set(*, quota, max_quota, rate_limit, max_volume):
    """Set a user's own limits (None = back to the default).

    Only the limits: writing the whole row would put back counters read a moment ago,
    losing the downloads counted meanwhile.
    """
    Quota.objects.filter(pk=quota.pk).update(
        max_quota=max_quota, rate_limit=rate_limit, max_volume=max_volume
    )


def slot_lease():
    return timedelta(seconds=settings.SLOT_LEASE_SECONDS)


class SlotKeeper:
    """Renews the leases of the downloads this process runs (by record id), from a daemon
    thread, and sweeps the leases that ran out (those of killed workers).

    Slots of a killed worker are renewed no more and expire within SLOT_LEASE_SECONDS;
    the thread renews each third of a lease so a live download never loses its slot.
    The sweep runs where `start(sweep=True)` asked for it (gunicorn's workers, see
    gunicorn.conf.py), so that a worker that has served nothing yet still closes the
    records that a killed one left open.
    """

    def __init__(self):
        self.held = set()
        self.lock = threading.Lock()
        self.thread = None
        self.sweeps = False
        self.stopping = threading.Event()

    def start(self, *, sweep=False):
        with self.lock:
            self.sweeps = self.sweeps or sweep
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="slot-keeper", daemon=True)
                self.thread.start()

    def hold(self, slot_id):
        with self.lock:
            self.held.add(slot_id)
        self.start()

    def stop(self):
        """Stop the thread after its current round (tests; a worker simply exits)."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join()

    def drop(self, slot_id):
        with self.lock:
            self.held.discard(slot_id)

    def renew(self):
        with self.lock:
            ids = list(self.held)
        if ids:
            DownloadRecord.objects.filter(pk__in=ids, lease_expires__isnull=False).update(
                lease_expires=timezone.now() + slot_lease()
            )

    def _run(self):
        while not self.stopping.wait(settings.SLOT_LEASE_SECONDS / 3):
            try:
                close_old_connections()
                self.renew()
                if self.sweeps and (closed := slot_sweep()):
                    logger.warning("closed %d record(s) left open by a stopped worker", closed)
            except Exception:  # the next round tries again; a missed renewal is not fatal
                logger.exception("renewing download slots failed")
            finally:
                connection.close()


slot_keeper = SlotKeeper()
