"""Admin of licences, quotas and download records for data stewards (SPEC §6)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, F, Q, Value
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from downloads import quotas, services
from downloads.csv_export import csv_response
from downloads.models import (
    UNLIMITED,
    DownloadRecord,
    LicenseAcceptance,
    Quota,
    QuotaDefaults,
    RestoreRequest,
)
from products.models import License


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the service itself: stewards look, nobody edits."""

    # True: whoever holds the delete permission (superusers; stewards do not) may delete rows.
    deletable = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.deletable and super().has_delete_permission(request, obj)


# Licences


class LicenseForm(forms.ModelForm):
    class Meta:
        model = License
        fields = ["text"]  # LicenseAdmin adds the others

    def clean_text(self):
        # Browsers send textareas with CRLF line ends: a text that differs from the stored one
        # only by them is the stored text, so that saving it is not a new version (here, nor to
        # load_catalog later); a new text is stored with LF.
        text = self.cleaned_data["text"].replace("\r\n", "\n")
        stored = self.initial.get("text") or ""
        return stored if text == stored.replace("\r\n", "\n") else text


@admin.register(License)
class LicenseAdmin(admin.ModelAdmin):
    form = LicenseForm
    change_form_template = "admin/products/license/change_form.html"
    list_display = ["slug", "title", "project", "version", "current_acceptances", "updated"]
    list_filter = ["project"]
    search_fields = ["slug", "title"]
    fields = ["slug", "title", "url", "text", "project", "version", "acceptances", "updated"]
    readonly_fields = ["version", "acceptances", "updated"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = ["publish_new_version"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                current_acceptances=Count(
                    "acceptances", filter=Q(acceptances__version=F("version"))
                )
            )
        )

    def publish(self, request, licenses):
        """Publish a new version of each of `licenses`: every user must accept them again."""
        published = list(licenses)
        for license in published:
            license.publish(new_version=True)
            self.log_change(request, license, f"Published version {license.version}.")
        return published

    def get_urls(self):
        publish = path(
            "<path:object_id>/publish/",
            self.admin_site.admin_view(self.publish_view),
            name="products_license_publish",
        )
        return [publish, *super().get_urls()]

    @admin.display(description="accepted (current version)", ordering="current_acceptances")
    def current_acceptances(self, license):
        url = reverse("admin:downloads_licenseacceptance_changelist")
        return format_html(
            '<a href="{}?license__id__exact={}&amp;version={}">{} users</a>',
            url,
            license.pk,
            license.version,
            license.current_acceptances,
        )

    @admin.display(description="acceptances")
    def acceptances(self, license):
        if license.pk is None:
            return "-"
        url = reverse("admin:downloads_licenseacceptance_changelist")
        return format_html(
            '<a href="{}?license__id__exact={}&amp;version={}">{} users accepted version {}</a>'
            ' · <a href="{}?license__id__exact={}">all versions</a>',
            url,
            license.pk,
            license.version,
            license.current_acceptances,
            license.version,
            url,
            license.pk,
        )

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)
        # The text is what users accepted: License.publish makes a new text a new version, so
        # acceptances of the old one stop counting. Only the fields the steward changed: a
        # whole-row save would write back a version read a moment ago.
        if obj.publish(**{name: getattr(obj, name) for name in form.changed_data}):
            self.message_user(
                request,
                f"The text changed: {obj.slug} is now version {obj.version}, "
                "every user must accept it again.",
                messages.WARNING,
            )

    @admin.action(
        description="Publish a new version (every user accepts again)", permissions=["change"]
    )
    def publish_new_version(self, request, queryset):
        published = self.publish(request, queryset)
        names = ", ".join(f"{license.slug} v{license.version}" for license in published)
        self.message_user(
            request,
            f"Published a new version of {len(published)} licence(s): {names}. "
            "Every user must accept again.",
            messages.SUCCESS,
        )

    def publish_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        license = self.get_object(request, unquote(object_id))
        if license is None:
            raise Http404
        if not self.has_change_permission(request, license):
            raise PermissionDenied
        self.publish(request, [license])
        self.message_user(
            request,
            f"Published version {license.version} of {license.slug}: "
            "every user must accept it again.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:products_license_change", args=[license.pk]))


@admin.register(LicenseAcceptance)
class LicenseAcceptanceAdmin(ReadOnlyAdmin):
    list_display = ["user_email", "license", "version", "is_current", "accepted"]
    list_filter = ["license", "version"]
    list_select_related = ["user", "license"]
    search_fields = ["user__email"]
    date_hierarchy = "accepted"

    @admin.display(description="user", ordering="user__email")
    def user_email(self, acceptance):
        return acceptance.user.email

    @admin.display(description="current version", boolean=True)
    def is_current(self, acceptance):
        return acceptance.version == acceptance.license.version


# Quotas


class LimitFieldsMixin:
    limit_fields = ("max_quota", "rate_limit", "max_volume")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # A plain "at least -1" message rather than the database constraint's name.
        if db_field.name in self.limit_fields:
            kwargs["min_value"] = UNLIMITED
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(QuotaDefaults)
class QuotaDefaultsAdmin(LimitFieldsMixin, admin.ModelAdmin):
    """One row, always there: the list leads straight to it."""

    fields = ["max_quota", "rate_limit", "max_volume"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        defaults = QuotaDefaults.current()
        return HttpResponseRedirect(
            reverse("admin:downloads_quotadefaults_change", args=[defaults.pk])
        )


def limits_text(limits):
    parts = []
    if limits.max_quota != UNLIMITED:
        parts.append(f"{limits.max_quota} downloads")
    if limits.rate_limit != UNLIMITED:
        parts.append(f"{limits.rate_limit} at once")
    if limits.max_volume != UNLIMITED:
        parts.append(filesizeformat(limits.max_volume))
    return " · ".join(parts) or "unlimited"


class QuotaCallerFilter(admin.SimpleListFilter):
    title = "caller"
    parameter_name = "caller"

    def lookups(self, request, model_admin):
        return [("users", "users"), ("anonymous", "anonymous addresses")]

    def queryset(self, request, queryset):
        if self.value() == "users":
            return queryset.filter(user__isnull=False)
        if self.value() == "anonymous":
            return queryset.filter(user__isnull=True)
        return queryset


@admin.register(Quota)
class QuotaAdmin(LimitFieldsMixin, admin.ModelAdmin):
    """Per-user limits (editable in the list) and usage, on one page."""

    list_display = [
        "caller",
        "max_quota",
        "rate_limit",
        "max_volume",
        "effective_limits",
        "current_quota",
        "volume",
        "since",
        "live_slots",
        "records",
    ]
    list_display_links = ["caller"]
    list_editable = ["max_quota", "rate_limit", "max_volume"]
    list_filter = [QuotaCallerFilter]
    search_fields = ["user__email", "client_address"]
    autocomplete_fields = ["user"]
    actions = ["reset_counters"]
    show_full_result_count = False
    usage_fields = ["current_quota", "volume", "since", "live_slots", "effective_limits", "records"]

    def get_queryset(self, request):
        # The defaults ride along on every row (one read per page), for `effective_limits`.
        defaults = QuotaDefaults.current()
        return quotas.quota_usage(super().get_queryset(request).select_related("user")).annotate(
            default_max_quota=Value(defaults.max_quota),
            default_rate_limit=Value(defaults.rate_limit),
            default_max_volume=Value(defaults.max_volume),
        )

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in self.limit_fields:
            default = getattr(QuotaDefaults.current(), db_field.name)
            field.help_text = f"Blank: the default applies (now {default}). -1: unlimited."
        return field

    def get_fieldsets(self, request, obj=None):
        limits = ("Limits", {"fields": ["max_quota", "rate_limit", "max_volume"]})
        if obj is None:
            return [(None, {"fields": ["user", "client_address"]}), limits]
        return [(None, {"fields": ["caller"]}), limits, ("Usage", {"fields": self.usage_fields})]

    def get_readonly_fields(self, request, obj=None):
        # Stewards edit limits, never counters: those move only under running downloads.
        return [] if obj is None else ["caller", *self.usage_fields]

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)
        # Only the limits: a whole-row save would write back counters read a moment ago,
        # losing the downloads counted meanwhile.
        quotas.quota_limits_set(
            quota=obj, max_quota=obj.max_quota, rate_limit=obj.rate_limit, max_volume=obj.max_volume
        )

    @admin.display(description="quota", ordering="user__email")
    def caller(self, quota):
        return str(quota)

    @admin.display(description="effective limits")
    def effective_limits(self, quota):
        defaults = QuotaDefaults(
            max_quota=quota.default_max_quota,
            rate_limit=quota.default_rate_limit,
            max_volume=quota.default_max_volume,
        )
        return limits_text(quotas.Limits.of(quota, defaults))

    @admin.display(description="volume", ordering="current_volume")
    def volume(self, quota):
        return filesizeformat(quota.current_volume)

    @admin.display(description="live slots", ordering="current_rate")
    def live_slots(self, quota):
        return quota.current_rate

    @admin.display(description="download records")
    def records(self, quota):
        url = reverse("admin:downloads_downloadrecord_changelist")
        if quota.user_id:
            return format_html('<a href="{}?user={}">records</a>', url, quota.user_id)
        return format_html('<a href="{}?q={}">records</a>', url, quota.client_address)

    @admin.action(description="Reset counters (downloads and volume)", permissions=["change"])
    def reset_counters(self, request, queryset):
        reset = quotas.quota_reset(quotas=Quota.objects.filter(pk__in=queryset.values("pk")))
        self.message_user(
            request, f"Reset the counters of {len(reset)} quota(s).", messages.SUCCESS
        )


# Download records


class SlotFilter(admin.SimpleListFilter):
    """Running downloads hold a slot: a lease that their worker renews. One whose lease
    ran out had its worker killed, and the lease sweep will close it."""

    title = "slot"
    parameter_name = "slot"

    def lookups(self, request, model_admin):
        return [("live", "running now"), ("expired", "lease ran out")]

    def queryset(self, request, queryset):
        if self.value() == "live":
            return queryset.filter(lease_expires__gt=timezone.now())
        if self.value() == "expired":
            return queryset.filter(lease_expires__lte=timezone.now())
        return queryset


class DownloadUserFilter(admin.SimpleListFilter):
    """Anonymous, logged-in, or one user (reached through the user links of the list):
    never a list of everyone who ever downloaded, which would scan every record."""

    title = "user"
    parameter_name = "user"

    def lookups(self, request, model_admin):
        choices = [("anonymous", "anonymous"), ("users", "logged-in users")]
        value = self.value()
        if value and value.isdigit():
            users = get_user_model().objects.filter(pk=value)
            email = users.values_list("email", flat=True).first()
            if email is not None:
                choices.append((value, email))
        return choices

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if value == "anonymous":
            return queryset.filter(user__isnull=True)
        if value == "users":
            return queryset.filter(user__isnull=False)
        if value.isdigit():
            return queryset.filter(user_id=value)
        raise IncorrectLookupParameters(f"unknown user filter {value!r}")


@admin.register(DownloadRecord)
class DownloadRecordAdmin(ReadOnlyAdmin):
    change_list_template = "admin/downloads/downloadrecord/change_list.html"
    list_display = [
        "started",
        "caller",
        "product_urn",
        "filename",
        "dataset",
        "outcome",
        "status_code",
        "sent",
    ]
    list_filter = ["outcome", SlotFilter, "dataset", DownloadUserFilter]
    list_select_related = ["user", "dataset"]
    date_hierarchy = "started"
    search_fields = ["user__email", "client_address", "product_urn", "checksum", "filename"]
    actions = ["export_csv"]
    show_full_result_count = False
    deletable = True  # a superuser may delete old records

    def get_urls(self):
        export = path(
            "export/",
            self.admin_site.admin_view(self.export_view),
            name="downloads_downloadrecord_export",
        )
        return [export, *super().get_urls()]

    @admin.display(description="user", ordering="user__email")
    def caller(self, record):
        if record.user_id is None:
            return f"anonymous {record.client_address or ''}".strip()
        return format_html('<a href="?user={}">{}</a>', record.user_id, record.user.email)

    @admin.display(description="sent", ordering="bytes_sent")
    def sent(self, record):
        return filesizeformat(record.bytes_sent)

    @admin.action(description="Export as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        return csv_response(queryset)

    def export_view(self, request):
        """The CSV of the list as filtered and searched on the page."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            url = reverse("admin:downloads_downloadrecord_changelist")
            return HttpResponseRedirect(f"{url}?e=1")
        return csv_response(changelist.get_queryset(request))


@admin.register(RestoreRequest)
class RestoreRequestAdmin(ReadOnlyAdmin):
    list_display = [
        "data_file",
        "status",
        "requested_by",
        "requested",
        "finished",
        "available_until",
        "purged",
    ]
    list_filter = ["status", "purged"]
    list_select_related = ["data_file", "requested_by"]
    search_fields = ["data_file__checksum", "data_file__filename", "requested_by__email"]
    date_hierarchy = "requested"
    show_full_result_count = False
    actions = ["retry"]

    def has_retry_permission(self, request):
        # Rows stay read-only; retrying only puts a failed request back in the queue.
        return request.user.has_perm("downloads.change_restorerequest")

    @admin.action(description="Retry the selected failed restores", permissions=["retry"])
    def retry(self, request, queryset):
        retried = services.restore_retry(restores=queryset)
        self.message_user(request, f"{retried} failed restore(s) queued again.")
