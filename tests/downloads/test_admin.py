"""The licence, quota and download-record admin, as a data steward (staff, in the stewards
group, not a superuser) uses it."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory
from django.utils import timezone

from downloads.models import (
    DownloadRecord,
    LicenseAcceptance,
    Quota,
    QuotaDefaults,
    RestoreRequest,
)
from downloads.selectors import license_is_accepted
from products.models import License
from tests.factories import (
    DataFileFactory,
    DatasetFactory,
    DownloadRecordFactory,
    LicenseAcceptanceFactory,
    LicenseFactory,
    QuotaFactory,
    RestoreRequestFactory,
    RunningDownloadFactory,
    UserFactory,
)
from tests.helpers import running_downloads

pytestmark = pytest.mark.django_db

Outcome = DownloadRecord.Outcome

CHANGELISTS = [
    "/admin/products/license/",
    "/admin/downloads/licenseacceptance/",
    "/admin/downloads/quota/",
    "/admin/downloads/downloadrecord/",
]


@pytest.fixture
def alice():
    return UserFactory(email="alice@example.org")


def quota(user=None, *, address=None, downloads=0, volume=0, **limits):
    return QuotaFactory(
        user=user,
        client_address=address,
        current_quota=downloads,
        current_volume=volume,
        **limits,
    )


def hold_slot(quota, *, seconds=60):
    return RunningDownloadFactory(quota=quota, seconds_left=seconds)


def record(*, user=None, address=None, **fields):
    return DownloadRecordFactory(user=user, client_address=address, **fields)


def listed(response):
    assert response.status_code == 200, response.status_code
    return list(response.context["cl"].result_list)


def run_action(client, url, action, objects):
    return client.post(
        url, {"action": action, "_selected_action": [obj.pk for obj in objects], "index": 0}
    )


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def csv_rows(response):
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


# Access


@pytest.mark.parametrize("url", CHANGELISTS)
def test_a_steward_sees_every_downloads_list(client, steward, alice, url):
    LicenseAcceptanceFactory(user=alice, license=LicenseFactory(), version=1)
    hold_slot(quota(alice))  # with the record of its running download

    assert len(listed(client.get(url))) == 1


@pytest.mark.parametrize("url", CHANGELISTS)
def test_every_downloads_list_is_searchable(client, steward, alice, url):
    LicenseAcceptanceFactory(user=alice, license=LicenseFactory(slug="cc-by"), version=1)
    hold_slot(quota(alice))  # with the record of its running download
    term = "cc-by" if url.endswith("/license/") else "alice@example"

    assert len(listed(client.get(url, {"q": term}))) == 1
    assert listed(client.get(url, {"q": "nobody-at-all"})) == []


@pytest.mark.parametrize("url", [*CHANGELISTS, "/admin/downloads/quotadefaults/"])
def test_an_anonymous_visitor_is_sent_to_the_login_page(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", [*CHANGELISTS, "/admin/downloads/quotadefaults/"])
def test_a_user_who_is_not_staff_gets_no_access(client, url):
    client.force_login(UserFactory())

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_non_staff_user_cannot_publish_a_license_or_export_records(client):
    license = LicenseFactory()
    client.force_login(UserFactory())

    publish = client.post(f"/admin/products/license/{license.pk}/publish/")
    export = client.get("/admin/downloads/downloadrecord/export/")

    assert publish.status_code == export.status_code == 302
    assert License.objects.get(pk=license.pk).version == 1


# Licences


def license_form(license, **changes):
    data = {"slug": license.slug, "title": license.title, "url": license.url, "text": license.text}
    return {**data, **changes}


def test_the_license_list_counts_acceptances_of_the_current_version_only(client, steward, alice):
    license = LicenseFactory(version=2)
    LicenseAcceptanceFactory(user=alice, license=license, version=1)
    LicenseAcceptanceFactory(user=UserFactory(), license=license, version=2)

    (listed_license,) = listed(client.get("/admin/products/license/"))

    assert listed_license.current_acceptances == 1


def test_a_steward_edits_a_license_title_without_a_new_version(client, steward):
    license = LicenseFactory(text="Use freely.\nCite us.")

    response = client.post(
        f"/admin/products/license/{license.pk}/change/",
        # A browser sends the unchanged text with CRLF line ends.
        license_form(license, title="Creative Commons BY", text="Use freely.\r\nCite us."),
    )

    assert response.status_code == 302
    license.refresh_from_db()
    assert license.title == "Creative Commons BY"
    assert license.text == "Use freely.\nCite us."
    assert license.version == 1


def test_a_steward_marks_the_project_license(client, steward):
    license = LicenseFactory()

    response = client.post(
        f"/admin/products/license/{license.pk}/change/", license_form(license, project="on")
    )

    assert response.status_code == 302
    license.refresh_from_db()
    assert (license.project, license.version) == (True, 1)


def test_a_second_project_license_is_refused_in_the_form(client, steward):
    first = LicenseFactory(project=True)
    second = LicenseFactory()

    response = client.post(
        f"/admin/products/license/{second.pk}/change/", license_form(second, project="on")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert list(License.objects.filter(project=True)) == [first]


def test_an_imported_crlf_text_saved_unchanged_is_not_a_new_version(client, steward):
    license = LicenseFactory(text="Use freely.\r\nCite us.")

    response = client.post(
        f"/admin/products/license/{license.pk}/change/",
        license_form(license, title="Creative Commons BY"),
    )

    assert response.status_code == 302
    license.refresh_from_db()
    assert (license.title, license.version) == ("Creative Commons BY", 1)
    # Kept as stored, so that reloading the same catalog document is no new version either.
    assert license.text == "Use freely.\r\nCite us."


def test_changing_a_license_text_publishes_a_new_version(client, steward, alice):
    license = LicenseFactory(text="Use freely.")
    LicenseAcceptanceFactory(user=alice, license=license, version=1)

    response = client.post(
        f"/admin/products/license/{license.pk}/change/",
        license_form(license, text="Use freely, but not for profit."),
        follow=True,
    )

    license.refresh_from_db()
    assert license.text == "Use freely, but not for profit."
    assert license.version == 2
    assert not license_is_accepted(user=alice, license=license)
    assert any("version 2" in message for message in messages_of(response))


def test_a_steward_adds_a_license_at_version_one(client, steward):
    response = client.post(
        "/admin/products/license/add/",
        {"slug": "etalab-2.0", "title": "Licence Ouverte", "url": "", "text": "Réutilisez."},
    )

    assert response.status_code == 302
    assert License.objects.get(slug="etalab-2.0").version == 1


def test_the_publish_action_bumps_the_versions_and_voids_old_acceptances(client, steward, alice):
    license, other, untouched = LicenseFactory(), LicenseFactory(version=4), LicenseFactory()
    LicenseAcceptanceFactory(user=alice, license=license, version=1)

    response = run_action(
        client, "/admin/products/license/", "publish_new_version", [license, other]
    )

    assert response.status_code == 302
    assert "Published a new version of 2 licence(s)" in messages_of(client.get(response.url))[0]
    versions = dict(License.objects.values_list("pk", "version"))
    assert versions == {license.pk: 2, other.pk: 5, untouched.pk: 1}
    license.refresh_from_db()
    assert not license_is_accepted(user=alice, license=license)
    (listed_license,) = listed(client.get("/admin/products/license/", {"q": license.slug}))
    assert listed_license.current_acceptances == 0


def test_the_change_page_offers_to_publish_a_new_version(client, steward):
    license = LicenseFactory()

    response = client.get(f"/admin/products/license/{license.pk}/change/")

    assert response.status_code == 200
    assert f'action="/admin/products/license/{license.pk}/publish/"'.encode() in response.content
    assert b"Publish a new version" in response.content


def test_the_publish_button_bumps_the_version(client, steward, alice):
    license = LicenseFactory(version=3)
    LicenseAcceptanceFactory(user=alice, license=license, version=3)

    response = client.post(f"/admin/products/license/{license.pk}/publish/", follow=True)

    assert response.redirect_chain == [(f"/admin/products/license/{license.pk}/change/", 302)]
    license.refresh_from_db()
    assert license.version == 4
    assert not license_is_accepted(user=alice, license=license)
    assert any("Published version 4" in message for message in messages_of(response))


def test_publishing_needs_a_post(client, steward):
    license = LicenseFactory()

    response = client.get(f"/admin/products/license/{license.pk}/publish/")

    assert response.status_code == 405
    assert License.objects.get(pk=license.pk).version == 1


def test_publishing_an_unknown_license_is_not_found(client, steward):
    assert client.post("/admin/products/license/999999/publish/").status_code == 404


def test_acceptances_are_read_only_and_filtered_by_license_and_version(client, steward, alice):
    license, other = LicenseFactory(version=2), LicenseFactory()
    old = LicenseAcceptanceFactory(user=alice, license=license, version=1)
    current = LicenseAcceptanceFactory(user=UserFactory(), license=license, version=2)
    LicenseAcceptanceFactory(user=alice, license=other, version=1)
    url = "/admin/downloads/licenseacceptance/"

    by_license = listed(client.get(url, {"license__id__exact": license.pk}))
    by_version = listed(client.get(url, {"license__id__exact": license.pk, "version": 2}))

    assert set(by_license) == {old, current}
    assert by_version == [current]
    assert client.get(f"{url}add/").status_code == 403
    assert client.post(f"{url}{old.pk}/change/", {"version": 9}).status_code == 403
    assert LicenseAcceptance.objects.get(pk=old.pk).version == 1


# Quotas


def test_quota_defaults_open_on_their_one_row(client, steward):
    QuotaDefaults.objects.all().delete()

    response = client.get("/admin/downloads/quotadefaults/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/downloads/quotadefaults/1/change/"
    assert QuotaDefaults.objects.count() == 1


def test_a_steward_edits_the_quota_defaults(client, steward):
    QuotaDefaults.current()

    response = client.post(
        "/admin/downloads/quotadefaults/1/change/",
        {"max_quota": 100, "rate_limit": 2, "max_volume": -1},
    )

    assert response.status_code == 302
    defaults = QuotaDefaults.current()
    assert (defaults.max_quota, defaults.rate_limit, defaults.max_volume) == (100, 2, -1)


def test_quota_defaults_cannot_be_added_or_deleted(client, steward):
    QuotaDefaults.current()

    assert client.get("/admin/downloads/quotadefaults/add/").status_code == 403
    assert (
        client.post("/admin/downloads/quotadefaults/1/delete/", {"post": "yes"}).status_code == 403
    )
    assert QuotaDefaults.objects.count() == 1


def test_the_quota_page_shows_limits_and_usage(client, steward, alice):
    QuotaDefaults.objects.update_or_create(pk=1, defaults={"max_quota": 100, "rate_limit": 2})
    alice_quota = quota(alice, downloads=3, volume=12_500_000, max_quota=10)
    hold_slot(alice_quota)
    hold_slot(alice_quota, seconds=-5)  # expired: not live

    response = client.get("/admin/downloads/quota/")

    (row,) = listed(response)
    assert row.current_rate == 1
    content = response.content.decode()
    assert "alice@example.org" in content
    assert "10 downloads · 2 at once" in content
    assert "11.9\xa0MB" in content
    assert f"/admin/downloads/downloadrecord/?user={alice.pk}" in content


def test_quotas_are_found_by_email_and_by_address(client, steward, alice):
    mine = quota(alice)
    anonymous = quota(address="192.0.2.7")
    url = "/admin/downloads/quota/"

    assert listed(client.get(url, {"q": "alice@"})) == [mine]
    assert listed(client.get(url, {"q": "192.0.2"})) == [anonymous]
    assert listed(client.get(url, {"caller": "anonymous"})) == [anonymous]


def test_a_steward_sets_a_user_limits_on_the_quota_page(client, steward, alice):
    mine = quota(alice, downloads=3, volume=500, max_quota=10)

    response = client.post(
        f"/admin/downloads/quota/{mine.pk}/change/",
        # Counters posted by hand are ignored: they are not part of the form.
        {"max_quota": "", "rate_limit": "2", "max_volume": "-1", "current_quota": "0"},
    )

    assert response.status_code == 302
    mine.refresh_from_db()
    assert (mine.max_quota, mine.rate_limit, mine.max_volume) == (None, 2, -1)
    assert (mine.current_quota, mine.current_volume) == (3, 500)


def test_a_steward_sets_limits_from_the_list(client, steward, alice):
    mine = quota(alice, downloads=3)

    response = client.post(
        "/admin/downloads/quota/",
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": mine.pk,
            "form-0-max_quota": "50",
            "form-0-rate_limit": "",
            "form-0-max_volume": "1000000",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    mine.refresh_from_db()
    assert (mine.max_quota, mine.rate_limit, mine.max_volume) == (50, None, 1_000_000)
    assert mine.current_quota == 3


def test_a_limit_below_minus_one_is_refused(client, steward, alice):
    mine = quota(alice, max_quota=10)

    response = client.post(
        f"/admin/downloads/quota/{mine.pk}/change/",
        {"max_quota": "-5", "rate_limit": "", "max_volume": ""},
    )

    assert response.status_code == 200
    assert "max_quota" in response.context["adminform"].form.errors
    mine.refresh_from_db()
    assert mine.max_quota == 10


def test_saving_limits_never_writes_back_counters_counted_meanwhile(steward, alice):
    mine = quota(alice, downloads=3)
    form_copy = Quota.objects.get(pk=mine.pk)
    form_copy.max_quota = 20
    Quota.objects.filter(pk=mine.pk).update(current_quota=4)  # a download counted meanwhile
    request = RequestFactory().post("/")
    request.user = steward

    site._registry[Quota].save_model(request, form_copy, form=None, change=True)

    mine.refresh_from_db()
    assert (mine.max_quota, mine.current_quota) == (20, 4)


def test_the_reset_action_zeroes_the_selected_counters(client, steward, alice):
    mine = quota(alice, downloads=3, volume=500)
    slot = hold_slot(mine)
    other = quota(UserFactory(), downloads=7, volume=900)

    response = run_action(client, "/admin/downloads/quota/", "reset_counters", [mine])

    assert response.status_code == 302
    mine.refresh_from_db()
    other.refresh_from_db()
    assert (mine.current_quota, mine.current_volume) == (0, 0)
    assert (other.current_quota, other.current_volume) == (7, 900)
    assert running_downloads().filter(pk=slot.pk).exists()
    assert messages_of(client.get(response.url)) == ["Reset the counters of 1 quota(s)."]


def test_download_records_show_which_downloads_hold_a_slot_now(client, steward, alice):
    mine = quota(alice)
    live, expired = hold_slot(mine), hold_slot(mine, seconds=-5)
    record(user=alice)  # finished
    url = "/admin/downloads/downloadrecord/"

    assert listed(client.get(url, {"slot": "live"})) == [live]
    assert listed(client.get(url, {"slot": "expired"})) == [expired]


# Download records


def test_download_records_cannot_be_added_or_edited(client, steward, alice):
    mine = record(user=alice)
    url = "/admin/downloads/downloadrecord/"

    assert client.get(f"{url}add/").status_code == 403
    assert client.get(f"{url}{mine.pk}/change/").status_code == 200  # to read
    assert client.post(f"{url}{mine.pk}/change/", {"bytes_sent": 0}).status_code == 403
    assert client.post(f"{url}{mine.pk}/delete/", {"post": "yes"}).status_code == 403
    assert DownloadRecord.objects.get(pk=mine.pk).bytes_sent == mine.bytes_sent


def test_a_superuser_may_delete_but_not_edit_download_records(client, alice):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    mine = record(user=alice)
    url = f"/admin/downloads/downloadrecord/{mine.pk}/"

    assert client.post(f"{url}change/", {"bytes_sent": 0}).status_code == 403
    assert client.post(f"{url}delete/", {"post": "yes"}).status_code == 302
    assert not DownloadRecord.objects.exists()


def test_download_records_are_filtered_by_outcome_dataset_user_and_date(client, steward, alice):
    mine = record(user=alice)
    failed = record(outcome=Outcome.STORAGE_ERROR, address="192.0.2.7")
    old = record(user=UserFactory(), started=timezone.now() - timedelta(days=400))
    url = "/admin/downloads/downloadrecord/"

    assert listed(client.get(url, {"outcome__exact": "STORAGE_ERROR"})) == [failed]
    assert listed(client.get(url, {"dataset__id__exact": mine.dataset_id})) == [mine]
    assert listed(client.get(url, {"user": alice.pk})) == [mine]
    assert listed(client.get(url, {"user": "anonymous"})) == [failed]
    assert listed(client.get(url, {"started__year": old.started.year})) == [old]


def test_download_records_are_found_by_email_urn_checksum_and_filename(client, steward, alice):
    mine = record(user=alice, data_file=DataFileFactory(filename="scene.tif"))
    record()
    url = "/admin/downloads/downloadrecord/"

    for term in ("alice@example", mine.product_urn, mine.checksum, "scene.t"):
        assert listed(client.get(url, {"q": term})) == [mine], term


def test_the_export_action_sends_the_selected_records_as_csv(client, steward, alice):
    dataset = DatasetFactory()
    mine = record(user=alice, data_file=DataFileFactory(product__dataset=dataset))
    record()

    response = run_action(client, "/admin/downloads/downloadrecord/", "export_csv", [mine])

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="download-records-')
    header, *rows = csv_rows(response)
    assert header[:8] == [
        "started",
        "ended",
        "user",
        "client_address",
        "product",
        "checksum",
        "filename",
        "dataset",
    ]
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert row["user"] == "alice@example.org"
    assert row["product"] == mine.product_urn
    assert row["dataset"] == dataset.urn
    assert row["bytes_sent"] == str(mine.bytes_sent)
    assert row["outcome"] == "COMPLETED"
    assert row["started"] == mine.started.isoformat()


def test_the_export_link_sends_the_filtered_list(client, steward, alice):
    record(user=alice)
    failed = record(outcome=Outcome.STORAGE_ERROR, error="=HYPERLINK(1)")

    page = client.get("/admin/downloads/downloadrecord/", {"outcome__exact": "STORAGE_ERROR"})
    response = client.get("/admin/downloads/downloadrecord/export/?outcome__exact=STORAGE_ERROR")

    assert b"/admin/downloads/downloadrecord/export/?outcome__exact=STORAGE_ERROR" in page.content
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    header, *rows = csv_rows(response)
    assert [dict(zip(header, row, strict=True))["checksum"] for row in rows] == [failed.checksum]
    assert rows[0][header.index("error")] == "'=HYPERLINK(1)"  # never run as a formula


def test_the_export_of_an_empty_list_is_just_the_header(client, steward):
    header, *rows = csv_rows(client.get("/admin/downloads/downloadrecord/export/"))

    assert header[0] == "started"
    assert rows == []


def test_an_export_with_a_bad_filter_goes_back_to_the_list(client, steward):
    response = client.get("/admin/downloads/downloadrecord/export/?user=nobody")

    assert response.status_code == 302
    assert response["Location"] == "/admin/downloads/downloadrecord/?e=1"


# Restore requests


def test_restore_requests_are_listed_read_only(client, steward):
    request = RestoreRequestFactory(data_file=DataFileFactory(filename="tape.nc"))
    url = "/admin/downloads/restorerequest/"

    assert listed(client.get(url, {"q": "tape.nc"})) == [request]
    assert listed(client.get(url, {"status__exact": "FAILED"})) == []
    assert client.get(f"{url}add/").status_code == 403
    assert client.post(f"{url}{request.pk}/change/", {"status": "DONE"}).status_code == 403


def test_a_steward_retries_a_failed_restore(client, steward):
    failed = RestoreRequestFactory(
        data_file=DataFileFactory(), status=RestoreRequest.Status.FAILED, error="tape jammed"
    )
    done = RestoreRequestFactory(data_file=DataFileFactory(), status=RestoreRequest.Status.DONE)

    response = client.post(
        "/admin/downloads/restorerequest/",
        {"action": "retry", "_selected_action": [failed.pk, done.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "1 failed restore(s) queued again." in response.content.decode()
    failed.refresh_from_db()
    done.refresh_from_db()
    assert (failed.status, failed.error) == (RestoreRequest.Status.PENDING, "")
    assert done.status == RestoreRequest.Status.DONE
