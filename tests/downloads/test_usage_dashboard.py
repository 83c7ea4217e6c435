"""The stewards' usage dashboard at /admin/usage/: its figures against a known set of
records, its filters, its CSV, who may see it, and its constant number of queries."""

import csv
import datetime
import io
from html.parser import HTMLParser

import pytest
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from downloads.models import DownloadRecord, RestoreRequest
from downloads.usage_charts import size_text
from tests.factories import (
    DataFileFactory,
    DatasetFactory,
    DownloadRecordFactory,
    QuotaFactory,
    RestoreRequestFactory,
    RunningDownloadFactory,
    UserFactory,
)
from tests.helpers import assert_api_error

pytestmark = pytest.mark.django_db

Outcome = DownloadRecord.Outcome
URL = "/admin/usage/"
CSV_URL = "/admin/usage/csv"


class Figures(HTMLParser):
    """The page's figures: [(data-figure, data-value or text, attributes of its table row)]."""

    def __init__(self, html):
        super().__init__()
        self.figures, self.row, self.open = [], {}, None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr":
            self.row = attrs
        if "data-figure" in attrs:
            self.open = [attrs["data-figure"], attrs.get("data-value"), self.row, attrs, ""]
            self.figures.append(self.open)

    def handle_data(self, data):
        if self.open is not None:
            self.open[4] += data

    def handle_endtag(self, tag):
        self.open = None
        if tag == "tr":
            self.row = {}

    def one(self, figure, **where):
        """The value of `figure` whose element or table row has the data attributes `where`."""
        found = [
            value
            for name, value, row, attrs, _ in self.figures
            if name == figure
            and all({**row, **attrs}.get(f"data-{k}") == v for k, v in where.items())
        ]
        assert len(found) == 1, (figure, where, found)
        return int(found[0])

    def rows(self, figure, key):
        """[(row's data-`key`, value)] of `figure`, in page order."""
        return [
            (row.get(f"data-{key}"), int(value))
            for name, value, row, _, _ in self.figures
            if name == figure
        ]


def figures_of(response):
    assert response.status_code == 200, response.content[:500]
    return Figures(response.content.decode())


def day(days_ago):
    return timezone.localdate() - datetime.timedelta(days=days_ago)


def at(days_ago, hour=12):
    """Noon (or `hour`) of the day `days_ago` days before today, in the server's zone."""
    return datetime.datetime.combine(
        day(days_ago), datetime.time(hour), tzinfo=timezone.get_current_timezone()
    )


def record(data_file, *, user=None, address=None, days_ago=0, sent=None, **fields):
    return DownloadRecordFactory(
        data_file=data_file,
        user=user,
        client_address=address,
        started=at(days_ago),
        bytes_sent=data_file.filesize if sent is None else sent,
        **fields,
    )


@pytest.fixture
def archive():
    """Two datasets with a file each, three users, and their records: downloads over
    three days, refusals, one record too old for the default range, restores and slots."""
    alpha = DatasetFactory(label="Alpha")
    beta = DatasetFactory(label="Beta")
    a_file = DataFileFactory(product__dataset=alpha, filesize=100)
    b_file = DataFileFactory(product__dataset=beta, filesize=1000)
    alice = UserFactory(email="alice@example.org")
    bob = UserFactory(email="bob@example.org")
    carol = UserFactory(email="carol@example.org")

    record(a_file, user=alice)
    record(a_file, user=alice)
    record(a_file, user=alice, days_ago=1, sent=40, outcome=Outcome.ABORTED)
    record(b_file, user=bob)
    record(b_file, user=carol, days_ago=2, outcome=Outcome.OFFLOADED, sent=500)
    record(a_file, address="10.0.0.1", sent=7)
    refused = {"bytes_expected": 1000, "sent": 0}
    record(b_file, user=bob, outcome=Outcome.QUOTA_EXCEEDED, status_code=429, **refused)
    record(b_file, user=bob, outcome=Outcome.QUOTA_EXCEEDED, status_code=429, **refused)
    record(b_file, user=carol, outcome=Outcome.RATE_LIMITED, status_code=429, **refused)
    record(a_file, address="10.0.0.2", outcome=Outcome.STORAGE_ERROR, status_code=502, sent=0)
    record(a_file, user=carol, days_ago=40, sent=9999)  # before the default 30 days

    nearline = DataFileFactory(product__dataset=beta, storage="nearline")
    for status in ["PENDING", "FAILED", "FAILED", "DONE"]:
        RestoreRequestFactory(data_file=DataFileFactory(product__dataset=beta), status=status)
    old = RestoreRequestFactory(data_file=nearline, status="DONE")
    RestoreRequest.objects.filter(pk=old.pk).update(requested=at(40))

    # Running downloads (records too, started now with nothing sent yet): two live slots
    # of alice's, one of an anonymous caller's, and one whose worker died.
    alice_quota = QuotaFactory(user=alice)
    RunningDownloadFactory(quota=alice_quota, data_file=a_file)
    RunningDownloadFactory(quota=alice_quota, data_file=b_file)
    RunningDownloadFactory(quota=QuotaFactory(client_address="10.0.0.9"), data_file=a_file)
    RunningDownloadFactory(quota=QuotaFactory(user=bob), data_file=b_file, seconds_left=-30)
    return {"alpha": alpha, "beta": beta}


# Who sees it


def test_the_admin_index_links_the_dashboard_for_a_steward(client, steward):
    response = client.get("/admin/")

    assert response.status_code == 200
    assert b'href="/admin/usage/"' in response.content


def test_the_admin_index_has_no_link_for_other_staff(client):
    client.force_login(UserFactory(is_staff=True))

    response = client.get("/admin/")

    assert response.status_code == 200
    assert b'href="/admin/usage/"' not in response.content


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_an_anonymous_visitor_is_sent_to_the_admin_login(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_a_user_who_is_not_staff_is_sent_to_the_admin_login(client, url):
    client.force_login(UserFactory())

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", [URL, CSV_URL])
def test_staff_who_are_not_stewards_are_refused(client, url):
    client.force_login(UserFactory(is_staff=True))

    response = client.get(url, headers={"Accept": "application/json"})

    assert_api_error(response, 403, "forbidden")


def test_a_superuser_sees_the_dashboard(client, archive):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    assert figures_of(client.get(URL)).one("downloads-total") == 10


# The figures


def test_the_totals_count_downloads_that_began_in_the_last_30_days(client, steward, archive):
    page = figures_of(client.get(URL))

    # 6 finished downloads and the 4 running ones (3 live, 1 stale); refusals, storage
    # failures and the 40-day-old download do not count.
    assert page.one("downloads-total") == 10
    assert page.one("bytes-total") == 100 + 100 + 40 + 1000 + 500 + 7
    assert page.one("live-slots-total") == 3


def test_downloads_and_bytes_per_day_and_dataset(client, steward, archive):
    alpha, beta = str(archive["alpha"].pk), str(archive["beta"].pk)

    page = figures_of(client.get(URL))

    today, yesterday, before = (day(n).isoformat() for n in (0, 1, 2))
    assert page.one("downloads", day=today, series=alpha) == 2 + 1 + 2  # alice, anon, running
    assert page.one("downloads", day=today, series=beta) == 1 + 2  # bob, running
    assert page.one("downloads", day=yesterday, series=alpha) == 1
    assert page.one("downloads", day=before, series=beta) == 1
    assert page.one("downloads", day=before, series=alpha) == 0
    assert page.one("bytes", day=today, series=alpha) == 207
    assert page.one("bytes", day=today, series=beta) == 1000
    assert page.one("bytes", day=yesterday, series=alpha) == 40
    assert page.one("bytes", day=before, series=beta) == 500
    assert page.one("downloads-day-total", day=today) == 8
    assert page.one("bytes-day-total", day=today) == 1207
    # Every day of the range has its row, those without downloads too.
    days = [d for d, _ in page.rows("downloads-day-total", "day")]
    assert days == [day(n).isoformat() for n in range(29, -1, -1)]


def test_downloads_per_dataset_most_downloaded_first(client, steward, archive):
    page = figures_of(client.get(URL))

    assert page.rows("dataset-downloads", "dataset") == [
        (archive["alpha"].urn, 6),
        (archive["beta"].urn, 4),
    ]
    assert page.one("dataset-bytes", dataset=archive["beta"].urn) == 1500


def test_refusals_by_code(client, steward, archive):
    page = figures_of(client.get(URL))

    assert page.rows("refusals", "outcome") == [
        ("QUOTA_EXCEEDED", 2),
        ("RATE_LIMITED", 1),
        ("STORAGE_ERROR", 1),
    ]


def test_the_page_says_which_refusals_are_not_recorded(client, steward):
    response = client.get(URL)

    assert b"licence not accepted" in response.content


def test_top_users_by_bytes_sent(client, steward, archive):
    page = figures_of(client.get(URL))

    assert page.rows("user-bytes", "user") == [
        ("bob@example.org", 1000),
        ("carol@example.org", 500),
        ("alice@example.org", 240),
    ]
    assert page.one("user-downloads", user="alice@example.org") == 3 + 2  # 2 running


def test_top_users_stop_at_ten(client, steward):
    data_file = DataFileFactory(filesize=10)
    users = [UserFactory(email=f"user{n:02d}@example.org") for n in range(12)]
    for n, user in enumerate(users):
        record(data_file, user=user, sent=100 + n)

    page = figures_of(client.get(URL))

    assert [email for email, _ in page.rows("user-bytes", "user")] == [
        f"user{n:02d}@example.org" for n in range(11, 1, -1)
    ]


def test_running_downloads_lift_their_users_into_the_top_ten(client, steward):
    """The totals count a download once it has ended: the page adds the running ones, and
    a user outside the totals' top ten, or with no total at all, may enter it."""
    data_file = DataFileFactory(filesize=10)
    users = [UserFactory(email=f"user{n:02d}@example.org") for n in range(12)]
    for n, user in enumerate(users):
        record(data_file, user=user, sent=100 + n)
    newcomer = UserFactory(email="newcomer@example.org")
    quotas = {user: QuotaFactory(user=user) for user in (users[0], newcomer)}
    for user, sent in [(users[0], 50), (newcomer, 105), (newcomer, 1)]:
        RunningDownloadFactory(
            quota=quotas[user], data_file=data_file, started=at(0), bytes_sent=sent
        )

    page = figures_of(client.get(URL))

    assert page.rows("user-bytes", "user")[:4] == [
        ("user00@example.org", 150),
        ("user11@example.org", 111),
        ("user10@example.org", 110),
        ("user09@example.org", 109),
    ]
    assert ("newcomer@example.org", 106) in page.rows("user-bytes", "user")
    assert len(page.rows("user-bytes", "user")) == 10
    assert page.one("user-downloads", user="newcomer@example.org") == 2
    assert page.one("downloads-total") == 12 + 3


def test_restore_requests_by_status(client, steward, archive):
    page = figures_of(client.get(URL))

    # The restore requested 40 days ago is outside the range.
    assert page.rows("restores", "status") == [
        ("PENDING", 1),
        ("RUNNING", 0),
        ("DONE", 1),
        ("FAILED", 2),
    ]


def test_live_slots_by_caller(client, steward, archive):
    page = figures_of(client.get(URL))

    assert page.rows("slots", "caller") == [("alice@example.org", 2), ("anonymous 10.0.0.9", 1)]
    assert page.one("stale-slots") == 1


def test_the_charts_are_inline_svg_with_tooltips(client, steward, archive):
    response = client.get(URL)

    html = response.content.decode()
    for chart in [
        "chart-downloads-per-day",
        "chart-bytes-per-day",
        "chart-refusals",
        "chart-top-users",
        "chart-restores",
        "chart-live-slots",
    ]:
        assert f'<svg id="{chart}"' in html
        assert f'aria-labelledby="{chart}-title"' in html
    assert f"<title>{day(0):%b} {day(0).day}, Alpha: 5</title>" in html
    assert "<script" not in html.split('<div id="content-main"')[1]


def test_labels_are_escaped_in_charts_and_tables(client, steward):
    dataset = DatasetFactory(label="<b>bold</b>")
    record(DataFileFactory(product__dataset=dataset))

    html = client.get(URL).content.decode()

    assert "<b>bold</b>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


@pytest.mark.parametrize("size", [0, 1, 2, 1023, 1024, 1536, 2**20 - 1, 5 * 2**30 + 7, 3 * 2**50])
def test_sizes_read_as_the_admin_writes_them(size):
    assert size_text(size) == filesizeformat(size)


def test_an_empty_archive_shows_zeros_and_no_chart_bars(client, steward):
    page = figures_of(client.get(URL))

    assert page.one("downloads-total") == 0
    assert page.one("live-slots-total") == 0
    assert page.rows("restores", "status")[0] == ("PENDING", 0)


# Filters


def test_a_date_range_filters_the_figures(client, steward, archive):
    start, end = day(2).isoformat(), day(1).isoformat()

    page = figures_of(client.get(URL, {"start": start, "end": end}))

    assert page.one("downloads-total") == 2  # yesterday's aborted one, carol's offloaded one
    assert page.one("bytes-total") == 540
    assert [d for d, _ in page.rows("downloads-day-total", "day")] == [start, end]
    assert page.rows("refusals", "outcome")[0] == ("QUOTA_EXCEEDED", 0)
    assert page.one("live-slots-total") == 3  # slots are about now, whatever the range


def test_an_old_range_shows_old_downloads(client, steward, archive):
    page = figures_of(client.get(URL, {"start": day(45).isoformat(), "end": day(35).isoformat()}))

    assert page.one("downloads-total") == 1
    assert page.one("bytes-total") == 9999
    assert page.rows("restores", "status")[2] == ("DONE", 1)


def test_a_dataset_filters_every_figure(client, steward, archive):
    page = figures_of(client.get(URL, {"dataset": archive["beta"].pk}))

    assert page.one("downloads-total") == 4
    assert page.one("bytes-total") == 1500
    assert page.rows("refusals", "outcome") == [
        ("QUOTA_EXCEEDED", 2),
        ("RATE_LIMITED", 1),
        ("STORAGE_ERROR", 0),
    ]
    assert page.rows("user-bytes", "user") == [
        ("bob@example.org", 1000),
        ("carol@example.org", 500),
        ("alice@example.org", 0),
    ]
    assert page.rows("restores", "status")[3] == ("FAILED", 2)
    assert page.rows("slots", "caller") == [("alice@example.org", 1)]


@pytest.mark.parametrize(
    "params, field, message",
    [
        ({"start": "yesterday"}, "start", "Enter a valid date."),
        ({"end": "2026-02-30"}, "end", "Enter a valid date."),
        ({"start": "2026-05-02", "end": "2026-05-01"}, "__all__", "must not be after"),
        ({"start": "2020-01-01", "end": "2026-01-01"}, "__all__", "at most 366 days"),
        ({"dataset": "not-a-number"}, "dataset", "Select a valid choice."),
        ({"dataset": "999999"}, "dataset", "Select a valid choice."),
        ({"start": "9000-01-01"}, "__all__", "must not be after"),
        ({"start": "9999-12-31"}, "start", "between 1970-01-01 and 9998-12-31"),
        ({"end": "0001-01-01"}, "end", "between 1970-01-01 and 9998-12-31"),
        ({"start": "9998-12-20", "end": "9999-12-31"}, "end", "between 1970-01-01"),
    ],
)
def test_bad_filters_are_explained_on_the_page(client, steward, params, field, message):
    response = client.get(URL, params)

    assert response.status_code == 400
    html = response.content.decode()
    assert f'data-field="{field}"' in html
    assert message in html
    assert 'data-figure="downloads-total"' not in html


def test_bad_filters_give_a_json_error_for_the_csv(client, steward):
    response = client.get(CSV_URL, {"start": "nope"})

    body = assert_api_error(response, 400, "invalid_request")
    assert "start" in body["errors"]


# CSV


def csv_of(response):
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="usage-')
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_page_links_the_csv_with_the_filters_in_effect(client, steward, archive):
    response = client.get(URL, {"dataset": archive["beta"].pk})

    query = f"start={day(29)}&amp;end={day(0)}&amp;dataset={archive['beta'].pk}"
    assert f'href="/admin/usage/csv?{query}"' in response.content.decode()


def test_the_form_shows_the_dates_in_effect(client, steward):
    response = client.get(URL, {"end": day(3).isoformat()})

    html = response.content.decode()
    assert f'name="start" value="{day(32)}"' in html
    assert f'name="end" value="{day(3)}"' in html


def test_the_csv_holds_the_figures_of_the_page(client, steward, archive):
    rows = csv_of(client.get(CSV_URL))

    assert rows[0] == ["figure", "day", "dataset", "key", "count", "bytes"]
    by_figure = {}
    for row in rows[1:]:
        by_figure.setdefault(row[0], []).append(row[1:])
    alpha, beta = archive["alpha"], archive["beta"]
    today = day(0).isoformat()
    assert by_figure["downloads_per_day"] == [
        [day(2).isoformat(), beta.urn, "Beta", "1", "500"],
        [day(1).isoformat(), alpha.urn, "Alpha", "1", "40"],
        [today, alpha.urn, "Alpha", "5", "207"],
        [today, beta.urn, "Beta", "3", "1000"],
    ]
    assert by_figure["downloads_per_dataset"] == [
        ["", alpha.urn, "Alpha", "6", "247"],
        ["", beta.urn, "Beta", "4", "1500"],
    ]
    assert by_figure["refusals"] == [
        ["", "", "QUOTA_EXCEEDED (quota_exceeded)", "2", ""],
        ["", "", "RATE_LIMITED (rate_limited)", "1", ""],
        ["", "", "STORAGE_ERROR (storage_unavailable / storage_file_missing)", "1", ""],
    ]
    assert [row[2] for row in by_figure["top_users"]] == [
        "bob@example.org",
        "carol@example.org",
        "alice@example.org",
    ]
    assert by_figure["restores"] == [
        ["", "", "PENDING", "1", ""],
        ["", "", "RUNNING", "0", ""],
        ["", "", "DONE", "1", ""],
        ["", "", "FAILED", "2", ""],
    ]
    assert by_figure["live_slots"] == [
        ["", "", "alice@example.org", "2", ""],
        ["", "", "anonymous 10.0.0.9", "1", ""],
    ]


def test_the_csv_takes_the_same_filters(client, steward, archive):
    rows = csv_of(client.get(CSV_URL, {"dataset": archive["alpha"].pk, "start": day(1)}))

    per_day = [row[1:6] for row in rows if row[0] == "downloads_per_day"]
    assert per_day == [
        [day(1).isoformat(), archive["alpha"].urn, "Alpha", "1", "40"],
        [day(0).isoformat(), archive["alpha"].urn, "Alpha", "5", "207"],
    ]


def test_a_csv_cell_cannot_become_a_formula(client, steward):
    dataset = DatasetFactory(label="=HYPERLINK(1)")
    record(DataFileFactory(product__dataset=dataset))

    rows = csv_of(client.get(CSV_URL))

    assert ["'=HYPERLINK(1)"] == [row[3] for row in rows if row[0] == "downloads_per_dataset"]


# Queries


def many_records(count_per_day, days, datasets, users):
    """Records spread over days, datasets and users, written in one INSERT."""
    files = [
        DataFileFactory(product__dataset=DatasetFactory(), filesize=10) for _ in range(datasets)
    ]
    people = [UserFactory() for _ in range(users)]
    outcomes = [Outcome.COMPLETED, Outcome.QUOTA_EXCEEDED, Outcome.ABORTED, Outcome.RATE_LIMITED]
    DownloadRecord.objects.bulk_create(
        DownloadRecord(
            data_file=files[n % datasets],
            product=files[n % datasets].product,
            dataset=files[n % datasets].product.dataset,
            user=people[n % users],
            product_urn=files[n % datasets].product.urn,
            checksum=files[n % datasets].checksum,
            filename="f",
            status_code=200,
            bytes_sent=n,
            outcome=outcomes[n % len(outcomes)],
            started=at(n % days, hour=n % 24),
        )
        for n in range(count_per_day * days)
    )
    for n in range(datasets):
        RestoreRequestFactory(data_file=DataFileFactory(product__dataset=files[n].product.dataset))
        RunningDownloadFactory(quota=QuotaFactory(user=people[n % users]), data_file=files[n])


def test_the_page_runs_the_same_queries_whatever_the_number_of_records(
    client, steward, django_assert_max_num_queries
):
    many_records(1, days=2, datasets=1, users=1)
    with django_assert_max_num_queries(13) as few:
        assert client.get(URL).status_code == 200

    many_records(20, days=30, datasets=12, users=15)
    with django_assert_max_num_queries(13) as many:
        page = figures_of(client.get(URL))
    with django_assert_max_num_queries(14):  # the dataset filter reads the dataset
        assert client.get(URL, {"dataset": DatasetFactory().pk}).status_code == 200

    assert len(many.captured_queries) == len(few.captured_queries)
    # Half the records are refusals; each dataset has a running download.
    assert page.one("downloads-total") == (1 + 1) + (300 + 12)
    assert len(page.rows("user-bytes", "user")) == 10


def test_the_csv_runs_the_same_queries_whatever_the_number_of_records(
    client, steward, django_assert_max_num_queries
):
    many_records(20, days=30, datasets=12, users=15)

    with django_assert_max_num_queries(11):
        assert client.get(CSV_URL).status_code == 200
