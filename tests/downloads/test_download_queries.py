"""The download path's database work stays small: it is paid on every file (SPEC §7: a
counted download runs at most 6 SQL statements in at most 2 write transactions)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from downloads.models import Quota
from regards_catalog.sql import statement_behind
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    LicenseFactory,
    QuotaFactory,
    UserFactory,
)
from tests.helpers import body_of, download_url

pytestmark = pytest.mark.django_db

CONTROL = re.compile(r"\s*(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT|BEGIN)\b", re.I)
# A write, also as PostgreSQL's `WITH changed AS (UPDATE …) INSERT …` (sql.insert).
WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|WITH\b.*\b(INSERT|UPDATE|DELETE))\b", re.I | re.S)


def database_work(captured):
    """(statements, write transactions) in the captured SQL. Tests run inside a
    transaction, so each of the code's transactions shows as a savepoint: a write outside
    one is a transaction of its own (autocommit)."""
    statements, transactions, depth, block_writes = [], 0, 0, False
    for query in captured:
        sql = statement_behind(query["sql"])  # PostgreSQL logs EXECUTE for prepared ones
        if CONTROL.match(sql):
            if sql.lstrip().upper().startswith("SAVEPOINT"):
                depth += 1
            elif sql.lstrip().upper().startswith(("RELEASE", "ROLLBACK")):
                depth -= 1
                if depth == 0 and block_writes:
                    transactions, block_writes = transactions + 1, False
            continue
        statements.append(sql)
        if WRITE.match(sql):
            if depth == 0:
                transactions += 1
            else:
                block_writes = True
    return statements, transactions


def assert_database_work(client, url, *, statements, transactions, body):
    with CaptureQueriesContext(connection) as captured:
        assert body_of(client.get(url)) == body
    ran, wrote = database_work(captured.captured_queries)
    listing = "\n".join(sql[:200] for sql in ran)
    assert len(ran) == statements, f"{len(ran)} statements:\n{listing}"
    assert wrote == transactions, f"{wrote} write transactions:\n{listing}"


@pytest.fixture
def licensed_private_file(stored_file, client_for):
    """A private file of a licensed dataset, and the client of a user allowed to download
    it, with the licence accepted and a quota of their own (one download already made)."""
    data_file = stored_file(b"x" * 10240, file_access="NO_ACCESS")
    dataset = data_file.product.dataset
    dataset.license = LicenseFactory()
    dataset.save()
    user = UserFactory()
    AccessRightFactory(group=AccessGroupFactory(members=[user]), dataset=dataset)
    QuotaFactory(user=user, max_quota=100, max_volume=10**9)
    client = client_for(user)
    assert body_of(client.get(download_url(data_file, acceptLicense="true"))) == b"x" * 10240
    return data_file, client


def counted_download_statements():
    """The token; the file with its product, dataset, licence, rights, acceptance and the
    caller's quota with the default limits; then, all or nothing, count and volume and
    the record (with its slot): one statement on PostgreSQL, a transaction of two on
    SQLite (sql.insert); then the record completed (its slot freed). SPEC §7 allows 6."""
    return 4 if connection.vendor == "postgresql" else 5


def test_a_counted_download_with_every_check_runs_four_or_five_statements_in_two_transactions(
    licensed_private_file,
):
    data_file, client = licensed_private_file

    assert_database_work(
        client,
        download_url(data_file),
        statements=counted_download_statements(),
        transactions=2,
        body=b"x" * 10240,
    )


def test_the_project_license_costs_no_statement(licensed_private_file):
    """Its acceptance is read in the same query as the dataset licence's."""
    data_file, client = licensed_private_file
    LicenseFactory(project=True)
    assert client.put("/api/v1/rs-admin/license").status_code == 200

    assert_database_work(
        client,
        download_url(data_file),
        statements=counted_download_statements(),
        transactions=2,
        body=b"x" * 10240,
    )


def test_a_counted_download_with_a_rate_limit_counts_the_slots_once_more(
    licensed_private_file,
):
    data_file, client = licensed_private_file
    Quota.objects.update(rate_limit=4)

    # Check 9b counts the running downloads, and again once the quota row is locked, in a
    # transaction of its own on both databases.
    assert_database_work(
        client, download_url(data_file), statements=7, transactions=2, body=b"x" * 10240
    )


def test_a_public_file_type_download_runs_two_statements(api_client, stored_file):
    data_file = stored_file(b"q" * 1024, data_type="QUICKLOOK_SD")

    # the file and its rights; its record, written whole when the response closes.
    assert_database_work(
        api_client, download_url(data_file), statements=2, transactions=1, body=b"q" * 1024
    )
