"""The multi-instance layout of docs/deploy.md, started on 127.0.0.1: two gunicorn
instances (gunicorn.conf.py) sharing the PostgreSQL test database and an S3 storage
(moto's server), a process_restores beside each, and nginx in front of both with the
upstream and location blocks read from the document. Quotas, restore claims and slot
leases hold across the two instances (issue 13 §4)."""

import contextlib
import dataclasses
import os
import pathlib
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.utils import timezone

from downloads.models import DownloadRecord, Quota, RestoreRequest
from products.models import DataFile
from tests.factories import (
    AccessGroupFactory,
    AccessRightFactory,
    DataFileFactory,
    ProductFactory,
    QuotaFactory,
    UserFactory,
)
from tests.gunicorn import GunicornInstance, gunicorn_instance
from tests.helpers import download_url, reset, stalled_client
from tests.nginx import NginxServer, documented_block
from tests.processes import DEADLINE, running, wait_until
from tests.s3 import BUCKET, S3Server

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the multi-instance layout shares one PostgreSQL database (docs/deploy.md); "
        "SQLite serves a single host",
    ),
]

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docs" / "deploy.md"
DOCUMENTED_HOSTS = ["10.0.0.11:8000", "10.0.0.12:8000"]
RESTORE = "/api/v1/rs-catalog/restore"
LEASE_SECONDS = 3
PREFIXES = {"s3": "online/", "glacier": "tape/"}
Outcome = DownloadRecord.Outcome


@dataclasses.dataclass
class Layout:
    nginx: NginxServer
    instances: list[GunicornInstance]
    s3: S3Server

    def put(self, content, **fields) -> DataFile:
        """A DataFile of `content`, its object stored in its location (`storage`, "s3" by
        default) with `storage_class`."""
        storage_class = fields.pop("storage_class", "STANDARD")
        data_file = DataFileFactory(content=content, **{"storage": "s3", **fields})
        key = PREFIXES[data_file.storage] + data_file.storage_key
        self.s3.put(key, content, storage_class=storage_class)
        return data_file


def documented_nginx(instances):
    """docs/deploy.md's `upstream` block, naming the instances, and its `location /` block."""
    upstream = documented_block(DEPLOY, "upstream regards_catalog {")
    for documented, instance in zip(DOCUMENTED_HOSTS, instances, strict=True):
        assert f"server {documented};" in upstream
        upstream = upstream.replace(documented, f"127.0.0.1:{instance.port}")
    location = documented_block(DEPLOY, "location / {")
    assert "proxy_pass http://regards_catalog;" in location
    return upstream, location


@contextlib.contextmanager
def layout_running(nginx_binary, s3, folder):
    """docs/deploy.md's layout on 127.0.0.1, its storage on `s3`; config and logs in `folder`."""
    locations = {
        "s3": s3.location(prefix="online", timeout=30),
        "glacier": s3.location(prefix="tape", tier="nearline", timeout=30),
    }
    # The settings docs/deploy.md says must be equal on every instance, and few enough
    # threads that both instances stay far below PostgreSQL's max_connections.
    shared = {
        "SECRET_KEY": "one secret for every instance",
        "TRUSTED_PROXIES": "127.0.0.1",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
        "SLOT_LEASE_SECONDS": str(LEASE_SECONDS),
        "THREADS": "4",
    }
    with contextlib.ExitStack() as stack:
        instances = []
        for name in ("a", "b"):
            (folder / name).mkdir()
            serving = gunicorn_instance(folder / "storage", folder / name, locations, **shared)
            instances.append(stack.enter_context(serving))
        upstream, location = documented_nginx(instances)
        nginx = NginxServer(nginx_binary, folder, location, folder / "nginx", http_config=upstream)
        try:
            yield Layout(stack.enter_context(nginx), instances, s3)
        finally:
            # Both at once, before the stack waits for each: gunicorn takes seconds to stop.
            for instance in instances:
                instance.process.terminate()


@pytest.fixture(scope="module")
def s3():
    """One S3 server for the module: moto keeps its state per process, so a second one
    started beside it would empty it."""
    with S3Server() as server:
        yield server


@pytest.fixture(scope="module")
def layout(django_db_setup, nginx_binary, s3, tmp_path_factory):
    """The layout, shared by the tests that leave both instances running."""
    with layout_running(nginx_binary, s3, tmp_path_factory.mktemp("layout")) as running_layout:
        yield running_layout


@pytest.fixture
def own_layout(nginx_binary, s3, tmp_path):
    """A layout of its own, for a test that kills one of its instances."""
    with layout_running(nginx_binary, s3, tmp_path) as running_layout:
        yield running_layout


@pytest.fixture
def restore_workers(layout, tmp_path):
    """`process_restores --interval 0.2` beside each instance, with its environment, each
    waiting for requests; gives their logs."""
    command = [sys.executable, "manage.py", "process_restores", "--interval", "0.2"]
    with contextlib.ExitStack() as stack:
        logs = []
        for instance in layout.instances:
            log = tmp_path / f"process_restores-{instance.port}.log"

            def waiting(log=log):
                return log.exists() and "waiting for restore requests" in log.read_text()

            stack.enter_context(
                running(
                    command,
                    ready=waiting,
                    log=log,
                    name="process_restores",
                    cwd=ROOT,
                    env=instance.environment,
                )
            )
            logs.append(log)
        yield logs


@pytest.fixture
def scientist(token_for):
    """A user, the group through which they may download, and their token header."""
    user = UserFactory()
    group = AccessGroupFactory(members=[user])
    return user, group, {"Authorization": f"Bearer {token_for(user)}"}


def allow(group, data_file):
    AccessRightFactory(group=group, dataset=data_file.product.dataset)


def get(url, headers=None):
    """(status, the JSON error's code, or the body when it is not JSON)."""
    response = requests.get(url, headers=headers, timeout=DEADLINE)
    if response.headers.get("Content-Type", "").startswith("application/json"):
        return response.status_code, response.json()["code"]
    return response.status_code, response.content


@contextlib.contextmanager
def fetching_meanwhile(url):
    """GETs of `url`, one after the other in a thread, until the with-block ends; gives the
    list of their statuses (or errors), which grows meanwhile."""
    answers, stop = [], threading.Event()

    def fetch():
        while not stop.is_set():
            try:
                answers.append(requests.get(url, timeout=DEADLINE).status_code)
            except requests.RequestException as error:
                answers.append(repr(error))
            stop.wait(0.05)  # a steady trickle, not a load test

    thread = threading.Thread(target=fetch, name="fetching-meanwhile")
    thread.start()
    try:
        yield answers
    finally:
        stop.set()
        thread.join(DEADLINE)


def test_500_concurrent_downloads_over_both_instances_give_exactly_max_quota(layout, scientist):
    user, group, auth = scientist
    content = os.urandom(10 * 1024)
    data_file = layout.put(content)
    allow(group, data_file)
    QuotaFactory(user=user, max_quota=100)
    url = layout.nginx.url + download_url(data_file)

    # 24 at a time: real concurrency over both instances' 2 × 2 workers × 4 threads,
    # without drowning a 2-core machine.
    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = Counter(pool.map(lambda _: get(url, auth), range(500)))

    assert answers == {(200, content): 100, (429, "quota_exceeded"): 400}

    def served():
        """Each instance's answers, once their access logs hold all 500."""
        statuses = [instance.answered(download_url(data_file)) for instance in layout.instances]
        return statuses if sum(map(len, statuses)) == 500 else None

    by_instance = [Counter(statuses) for statuses in wait_until(served, message="500 log lines")]
    assert sum(by_instance, Counter()) == {200: 100, 429: 400}
    assert all(answered[200] > 0 for answered in by_instance), by_instance  # both served
    assert Quota.objects.get(user=user).current_quota == 100
    records = DownloadRecord.objects.filter(user=user)
    wait_until(lambda: records.filter(outcome=Outcome.COMPLETED).count() == 100)
    assert Counter(records.values_list("outcome", flat=True)) == {
        Outcome.COMPLETED: 100,
        Outcome.QUOTA_EXCEEDED: 400,
    }


def test_a_restore_is_claimed_once_by_the_workers_of_both_instances(
    layout, restore_workers, scientist
):
    user, group, auth = scientist
    product = ProductFactory()
    AccessRightFactory(group=group, dataset=product.dataset)
    contents = [
        f"scene {n} kept in glacier {os.urandom(8).hex()}\n".encode() * 100 for n in range(6)
    ]
    data_files = [
        layout.put(content, product=product, storage="glacier", storage_class="GLACIER")
        for content in contents
    ]
    urls = [layout.nginx.url + download_url(data_file) for data_file in data_files]
    assert get(urls[0], auth) == (409, "restore_required")

    asked = requests.post(
        layout.nginx.url + RESTORE,
        json={"product_ids": [product.urn]},
        headers=auth,
        timeout=DEADLINE,
    )
    assert asked.status_code == 200, asked.content
    restores = RestoreRequest.objects.filter(data_file__product=product)
    wait_until(
        lambda: restores.filter(status=RestoreRequest.Status.DONE).count() == len(data_files),
        message="both workers to restore the files",
    )

    for data_file in data_files:
        key = PREFIXES["glacier"] + data_file.storage_key
        assert layout.s3.requests.count(f"POST /{BUCKET}/{key}?restore") == 1, data_file
    assert sorted(restores.values_list("attempts", flat=True)) == [1] * len(data_files)

    def reports():
        lines = [line for log in restore_workers for line in log.read_text().splitlines()]
        return [line for line in lines if line.startswith("restored ")]

    wait_until(lambda: len(reports()) >= len(data_files), message="the workers' reports")
    assert sorted(reports()) == sorted(f"restored {f.filename} ({f.checksum})" for f in data_files)
    assert [get(url, auth) for url in urls] == [(200, content) for content in contents]


def test_a_killed_instance_frees_its_slot_within_the_lease_and_the_other_keeps_serving(
    own_layout, scientist, public_group
):
    user, group, auth = scientist
    big = own_layout.put(os.urandom(32 * 1024 * 1024), filename="big.bin")
    small_content = b"a small private file\n"
    small = own_layout.put(small_content, product=ProductFactory(dataset=big.product.dataset))
    allow(group, big)
    quicklook = own_layout.put(b"a public quicklook\n", data_type=DataFile.DataType.QUICKLOOK_SD)
    AccessRightFactory(group=public_group, dataset=quicklook.product.dataset)
    QuotaFactory(user=user, rate_limit=1)
    token_header = f"Authorization: {auth['Authorization']}"

    sock = stalled_client(own_layout.nginx.url, download_url(big), [token_header])
    try:
        streaming = wait_until(
            lambda: DownloadRecord.objects.filter(outcome=Outcome.IN_PROGRESS).first(),
            message="the big download to begin",
        )
        dying = wait_until(
            lambda: next((i for i in own_layout.instances if i.streaming()), None),
            message="the instance streaming the big file",
        )
        (survivor,) = [instance for instance in own_layout.instances if instance is not dying]
        # rateLimit=1: the stream holds the user's one slot, whichever instance is asked.
        assert get(survivor.url + download_url(small), auth) == (429, "rate_limited")

        with fetching_meanwhile(survivor.url + download_url(quicklook)) as survivor_answers:
            dying.kill()
            killed_at, killed = timezone.now(), time.monotonic()
            # Its last renewal, before the survivor's sweep (a lease later) clears it.
            lease_end = DownloadRecord.objects.get(pk=streaming.pk).lease_expires
            answers = []

            def downloads_again():
                answers.append(get(own_layout.nginx.url + download_url(small), auth))
                return answers[-1] == (200, small_content)

            wait_until(
                downloads_again,
                timeout=LEASE_SECONDS + 10,  # the lease, and time for requests on a busy machine
                interval=0.1,
                message=lambda: f"the dead instance's slot to be free: {answers}",
            )
            freed_after = time.monotonic() - killed
    finally:
        reset(sock)

    print(f"slot free {freed_after:.2f} s after the kill ({len(answers) - 1} refusals before)")
    # Refused while the dead instance's lease ran, never a 502: nginx sends every request
    # to the instance that is still alive.
    assert set(answers[:-1]) <= {(429, "rate_limited")}
    assert lease_end <= killed_at + timedelta(seconds=LEASE_SECONDS)
    # Written when the download began (and completed only once its response has closed).
    again = DownloadRecord.objects.get(data_file=small, status_code=200)
    assert again.started >= lease_end  # not before the lease ran out
    # The survivor answered it: its access log line is written once the response is sent,
    # which may be after the client has read it.
    wait_until(
        lambda: 200 in survivor.answered(download_url(small)),
        message="the survivor's access log line of the download",
    )
    assert survivor_answers and set(survivor_answers) == {200}, survivor_answers
    record = wait_until(
        lambda: DownloadRecord.objects.filter(pk=streaming.pk, outcome=Outcome.ABORTED).first(),
        message="the surviving instance to close the dead download's record",
    )
    assert "lease ran out" in record.error
