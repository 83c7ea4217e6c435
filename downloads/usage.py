"""The stewards' usage dashboard (/admin/usage/): its filters and the aggregate reads behind
each figure.

The downloads, refusals and top users are read from the records' daily totals
(DailyUsage, DailyUserUsage, DailyDatasetUserUsage), which triggers keep exact in every
transaction that writes a record (migrations 0008 and 0009): the page reads a few rows per
day and dataset (and per user), not every record of the range. The totals count a download
once it has ended, so that a download's start costs its writer nothing there: the downloads
running now are added from their records, as few as the slots taken. Restores and slots
are read where they are, a small table and the running downloads. The page's query count
is constant (a test holds it).
"""

import dataclasses
import datetime

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import checks
from django.db.models import Case, Count, Q, Sum, Value, When
from django.utils import timezone

from downloads.models import (
    DailyDatasetUserUsage,
    DailyUsage,
    DailyUserUsage,
    DownloadRecord,
    RestoreRequest,
)
from products.models import Dataset

Outcome = DownloadRecord.Outcome
DEFAULT_DAYS = 30
MAX_DAYS = 366
# Dates a range may hold: the days before and after stay within what Python represents.
EARLIEST, LATEST = datetime.date(1970, 1, 1), datetime.date(9998, 12, 31)

# A download is an attempt that began sending bytes: these outcomes. Its bytes are the
# bytes sent (an aborted or resumed download sends part of the file). The per-user totals'
# triggers hold a copy (migration downloads.0008): a change here needs a migration. The
# totals hold no IN_PROGRESS record (0009): running downloads are read from the records.
DELIVERED = (
    Outcome.COMPLETED,
    Outcome.ABORTED,
    Outcome.OFFLOADED,
    Outcome.REDIRECTED,
    Outcome.CORRUPT,
    Outcome.IN_PROGRESS,
)
# The refusals and failures a record keeps, with the API error code the caller got. Checks
# 1 to 8 (token, access, licence, restore) answer before a record is written (SPEC §4):
# they are not counted here.
REFUSALS = {
    Outcome.QUOTA_EXCEEDED: "quota_exceeded",
    Outcome.RATE_LIMITED: "rate_limited",
    Outcome.STORAGE_ERROR: "storage_unavailable / storage_file_missing",
}
TOP_USERS = 10


@checks.register()
def check_utc_days(**kwargs):
    """The daily totals count UTC days (the triggers of migration 0008): the dashboard's
    days, in the server's time zone, are the same days only while that zone is UTC."""
    if settings.TIME_ZONE == "UTC":
        return []
    message = "TIME_ZONE must be UTC: the usage dashboard's daily totals count UTC days."
    return [checks.Error(message, id="downloads.E001")]


class UsageFilterForm(forms.Form):
    """The date range (whole days, in the server's time zone) and the dataset of the figures."""

    start = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.order_by("label", "pk"),
        required=False,
        empty_label="All datasets",
    )

    def clean_start(self):
        return self._within_bounds(self.cleaned_data["start"])

    def clean_end(self):
        return self._within_bounds(self.cleaned_data["end"])

    def _within_bounds(self, date):
        if date is not None and not EARLIEST <= date <= LATEST:
            raise forms.ValidationError(f"Choose a date between {EARLIEST} and {LATEST}.")
        return date

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        today = timezone.localdate()
        end = cleaned.get("end") or today
        start = cleaned.get("start") or end - datetime.timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError("The start date must not be after the end date.")
        if (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError(f"Choose a range of at most {MAX_DAYS} days.")
        cleaned["start"], cleaned["end"] = start, end
        return cleaned

    def filters(self):
        """The valid filters (call after is_valid())."""
        data = self.cleaned_data
        return UsageFilters(start=data["start"], end=data["end"], dataset=data["dataset"])


@dataclasses.dataclass(frozen=True)
class UsageFilters:
    start: datetime.date
    end: datetime.date  # included
    dataset: Dataset | None = None

    @classmethod
    def default(cls):
        end = timezone.localdate()
        return cls(start=end - datetime.timedelta(days=DEFAULT_DAYS - 1), end=end)

    def as_query(self):
        """The filters as the page's query parameters."""
        query = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.dataset is not None:
            query["dataset"] = self.dataset.pk
        return query

    @property
    def days(self):
        return [
            self.start + datetime.timedelta(days=n) for n in range((self.end - self.start).days + 1)
        ]

    def time_range(self):
        """[first instant, instant after the last day) in the current time zone."""
        zone = timezone.get_current_timezone()

        def midnight(day):
            return datetime.datetime.combine(day, datetime.time(), tzinfo=zone)

        return midnight(self.start), midnight(self.end + datetime.timedelta(days=1))


@dataclasses.dataclass
class DatasetUsage:
    dataset_id: int | None  # None: the dataset was deleted since
    label: str
    urn: str
    downloads: int = 0
    bytes: int = 0


@dataclasses.dataclass
class Usage:
    """Every figure of the dashboard for one set of filters."""

    filters: UsageFilters
    # {(day, dataset id): (downloads, bytes)}
    per_day: dict
    # Datasets with downloads in the range, most downloaded first.
    datasets: list[DatasetUsage]
    # [(outcome, API code, count)], every recorded refusal kind (zeros included).
    refusals: list
    # [{"user_id", "email", "downloads", "bytes"}], most bytes first.
    top_users: list
    # [(status, count)], every status (zeros included).
    restores: list
    # [{"caller", "slots"}] of the running downloads now, most slots first.
    live_slots: list
    stale_slots: int  # leases that ran out (a killed worker), freed by the next sweep

    @property
    def downloads(self):
        return sum(d.downloads for d in self.datasets)

    @property
    def bytes(self):
        return sum(d.bytes for d in self.datasets)

    @property
    def live_slot_count(self):
        return sum(row["slots"] for row in self.live_slots)

    def day_totals(self):
        """[(day, downloads, bytes)] of every day of the range, zeros included."""
        totals = {day: [0, 0] for day in self.filters.days}
        for (day, _), (count, size) in self.per_day.items():
            totals[day][0] += count
            totals[day][1] += size
        return [(day, count, size) for day, (count, size) in totals.items()]


def usage(filters):
    """The dashboard's figures: seven queries (running downloads, days and datasets,
    dataset labels, top users, their emails, restores, slots) whatever the number of
    records."""
    running = _running(filters)
    per_day, per_dataset, refused = _by_day_dataset_and_outcome(filters, running)
    return Usage(
        filters=filters,
        per_day=per_day,
        datasets=_datasets(per_dataset),
        refusals=[(outcome, code, refused.get(outcome, 0)) for outcome, code in REFUSALS.items()],
        top_users=_top_users(filters, running),
        restores=_restores(filters),
        live_slots=(slots := _slots(filters))[0],
        stale_slots=slots[1],
    )


def daily_totals(model, filters):
    """The rows of `model` (the records' totals per day, kept by triggers) in the filters'
    range and dataset."""
    rows = model.objects.filter(day__gte=filters.start, day__lte=filters.end)
    if filters.dataset is not None:
        rows = rows.filter(dataset_id=filters.dataset.pk)
    return rows.order_by()


@dataclasses.dataclass(frozen=True)
class RunningDownload:
    day: datetime.date
    dataset_id: int | None
    user_id: int | None
    bytes_sent: int


def _running(filters):
    """The downloads running now that began in the filters' range: the daily totals count
    a download once it has ended (migration 0009). As few as the slots taken, found by the
    index on (outcome, started)."""
    start, end = filters.time_range()
    records = DownloadRecord.objects.filter(
        outcome=Outcome.IN_PROGRESS, started__gte=start, started__lt=end
    )
    if filters.dataset is not None:
        records = records.filter(dataset=filters.dataset)
    return [
        RunningDownload(timezone.localdate(started), dataset_id, user_id, size)
        for started, dataset_id, user_id, size in records.values_list(
            "started", "dataset_id", "user_id", "bytes_sent"
        )
    ]


def _by_day_dataset_and_outcome(filters, running):
    """The downloads per day and dataset and the refusals, from the daily totals (a few
    rows per day and dataset, whatever the number of records) and the running downloads:
    ({(day, dataset): (downloads, bytes)}, {dataset: [downloads, bytes]}, {outcome:
    refusals})."""
    rows = daily_totals(DailyUsage, filters).values_list(
        "day", "dataset_id", "outcome", "records", "bytes_sent"
    )
    per_day, per_dataset, refused = {}, {}, dict.fromkeys(REFUSALS, 0)
    running_rows = [
        (download.day, download.dataset_id, Outcome.IN_PROGRESS, 1, download.bytes_sent)
        for download in running
    ]
    for day, dataset_id, outcome, count, size in [*rows, *running_rows]:
        if outcome in refused:
            refused[outcome] += count
        if outcome not in DELIVERED or not count:
            continue
        dataset_id = dataset_id or None  # 0 in the totals: no dataset (deleted)
        downloads, total = per_day.get((day, dataset_id), (0, 0))
        per_day[(day, dataset_id)] = (downloads + count, total + size)
        totals = per_dataset.setdefault(dataset_id, [0, 0])
        totals[0] += count
        totals[1] += size
    return per_day, per_dataset, refused


def _datasets(per_dataset):
    """The datasets with downloads, with their labels (one query), most downloaded first."""
    known = Dataset.objects.filter(pk__in=[pk for pk in per_dataset if pk is not None])
    labels = {pk: (label, urn) for pk, label, urn in known.values_list("pk", "label", "urn")}
    datasets = [
        DatasetUsage(pk, *labels.get(pk, ("(deleted dataset)", "")), downloads=count, bytes=size)
        for pk, (count, size) in per_dataset.items()
    ]
    return sorted(datasets, key=lambda d: (-d.downloads, -d.bytes, d.label))


def _top_users(filters, running):
    """The users sent the most bytes, from the daily totals per user (per dataset and user
    when a dataset is chosen) and their running downloads; their emails read for those ten
    only. A deleted user's totals went to zero with the records' user_id."""
    figures = {}  # user id → [downloads, bytes]
    for download in running:
        if download.user_id is not None:
            user = figures.setdefault(download.user_id, [0, 0])
            user[0] += 1
            user[1] += download.bytes_sent
    model = DailyUserUsage if filters.dataset is None else DailyDatasetUserUsage
    order = ["-bytes", "-downloads", "user_id"]
    if figures:
        # The users with running downloads first, then the top ten others: a user left
        # out has no running download and ten others ahead, so stays out of the top.
        order.insert(0, Case(When(user_id__in=list(figures), then=Value(0)), default=Value(1)))
    rows = (
        daily_totals(model, filters)
        .values("user_id")
        .annotate(downloads=Sum("downloads"), bytes=Sum("bytes_sent"))
        .filter(downloads__gt=0)
        .order_by(*order)[: TOP_USERS + len(figures)]
    )
    for row in rows:
        user = figures.setdefault(row["user_id"], [0, 0])
        user[0] += row["downloads"]
        user[1] += row["bytes"] or 0
    top = sorted(figures.items(), key=lambda item: (-item[1][1], -item[1][0], item[0]))
    top = top[:TOP_USERS]
    users = get_user_model().objects.filter(pk__in=[user_id for user_id, _ in top])
    emails = dict(users.values_list("pk", "email"))
    return [
        {"user_id": user_id, "email": emails[user_id], "downloads": count, "bytes": size}
        for user_id, (count, size) in top
    ]


def _restores(filters):
    """Restore requests made in the range, by status."""
    start, end = filters.time_range()
    requests = RestoreRequest.objects.filter(requested__gte=start, requested__lt=end)
    if filters.dataset is not None:
        requests = requests.filter(data_file__product__dataset=filters.dataset)
    counts = dict(requests.order_by().values_list("status").annotate(count=Count("id")))
    return [(status, counts.get(status, 0)) for status in RestoreRequest.Status.values]


def _slots(filters):
    """([{"caller", "slots"}] of the downloads running now, stale leases): whatever the date
    range, as slots are about now; the dataset filter applies."""
    now = timezone.now()
    leased = DownloadRecord.objects.filter(lease_expires__isnull=False)
    if filters.dataset is not None:
        leased = leased.filter(dataset=filters.dataset)
    rows = (
        leased.order_by()
        .values("quota_id", "quota__user__email", "quota__client_address")
        .annotate(
            live=Count("id", filter=Q(lease_expires__gt=now)),
            stale=Count("id", filter=Q(lease_expires__lte=now)),
        )
    )
    live, stale = [], 0
    for row in rows:
        stale += row["stale"]
        if row["live"]:
            caller = row["quota__user__email"] or (
                f"anonymous {row['quota__client_address']}"
                if row["quota__client_address"]
                else "no quota (public file types)"
            )
            live.append({"caller": caller, "slots": row["live"]})
    return sorted(live, key=lambda row: (-row["slots"], row["caller"])), stale


def csv_rows(figures):
    """The figures as rows of (figure, day, dataset, key, count, bytes): one table for all,
    so a spreadsheet filters it by its first column."""
    yield ("figure", "day", "dataset", "key", "count", "bytes")
    datasets = {d.dataset_id: d for d in figures.datasets}
    for (day, dataset_id), (count, size) in sorted(
        figures.per_day.items(), key=lambda item: (item[0][0], datasets[item[0][1]].label)
    ):
        dataset = datasets[dataset_id]
        yield ("downloads_per_day", day.isoformat(), dataset.urn, dataset.label, count, size)
    for dataset in figures.datasets:
        yield (
            "downloads_per_dataset",
            "",
            dataset.urn,
            dataset.label,
            dataset.downloads,
            dataset.bytes,
        )
    for outcome, code, count in figures.refusals:
        yield ("refusals", "", "", f"{outcome} ({code})", count, "")
    for user in figures.top_users:
        yield ("top_users", "", "", user["email"], user["downloads"], user["bytes"])
    for status, count in figures.restores:
        yield ("restores", "", "", status, count, "")
    for row in figures.live_slots:
        yield ("live_slots", "", "", row["caller"], row["slots"], "")
