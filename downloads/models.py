"""Licence acceptances, download records, quotas and restore requests."""

from django.conf import settings
from django.db import models

from products.models import License


class LicenseAcceptance(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="license_acceptances"
    )
    license = models.ForeignKey(License, on_delete=models.CASCADE, related_name="acceptances")
    version = models.PositiveIntegerField()
    accepted = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-accepted"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "license", "version"], name="one_acceptance_per_version"
            )
        ]

    def __str__(self):
        return f"{self.user} accepted {self.license.slug} v{self.version}"


class DownloadRecord(models.Model):
    """One download attempt that reached check 9: written IN_PROGRESS, holding a slot (its
    lease), when its first bytes are ready to go out; completed when the response closes,
    or ABORTED by the lease sweep if its worker died. Refusals and storage failures are
    written at once."""

    class Outcome(models.TextChoices):
        IN_PROGRESS = "IN_PROGRESS"
        COMPLETED = "COMPLETED"
        ABORTED = "ABORTED", "Aborted by the client"
        STORAGE_ERROR = "STORAGE_ERROR"
        CORRUPT = "CORRUPT", "Checksum mismatch"
        OFFLOADED = "OFFLOADED", "Handed to nginx"
        REDIRECTED = "REDIRECTED", "Redirected to the storage"
        QUOTA_EXCEEDED = "QUOTA_EXCEEDED", "Refused: quota exceeded"
        RATE_LIMITED = "RATE_LIMITED", "Refused: too many simultaneous downloads"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    client_address = models.GenericIPAddressField(null=True, blank=True)
    product = models.ForeignKey(
        "products.Product", null=True, blank=True, on_delete=models.SET_NULL
    )
    data_file = models.ForeignKey(
        "products.DataFile", null=True, blank=True, on_delete=models.SET_NULL
    )
    dataset = models.ForeignKey(
        "products.Dataset", null=True, blank=True, on_delete=models.SET_NULL
    )
    product_urn = models.CharField(max_length=200)
    checksum = models.CharField(max_length=128)
    filename = models.CharField(max_length=255)
    status_code = models.PositiveSmallIntegerField()
    range_start = models.BigIntegerField(default=0)
    bytes_expected = models.BigIntegerField(default=0)
    bytes_sent = models.BigIntegerField(default=0)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.IN_PROGRESS)
    error = models.TextField(blank=True)
    started = models.DateTimeField(db_index=True)
    ended = models.DateTimeField(null=True, blank=True)
    # The quota the download was taken from (None for public file types: no quota).
    quota = models.ForeignKey(
        "Quota", null=True, blank=True, on_delete=models.SET_NULL, related_name="records"
    )
    # While the download runs, its slot: a lease renewed while it streams. A download whose
    # lease ran out had its worker killed; the lease sweep closes it as ABORTED.
    lease_expires = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started"]
        indexes = [
            models.Index(fields=["outcome", "started"]),
            # Running downloads only: the rate limit counts a quota's, the sweep finds the
            # expired ones, and neither reads the finished millions.
            models.Index(
                fields=["quota", "lease_expires"],
                condition=models.Q(lease_expires__isnull=False),
                name="running_downloads",
            ),
        ]

    def __str__(self):
        return f"{self.product_urn}/{self.checksum} {self.outcome}"


class DailyUsage(models.Model):
    """The download records of one day (UTC), dataset and outcome: how many, and the bytes
    they sent. The usage dashboard reads these rather than every record.

    Kept exact by database triggers on DownloadRecord (migration 0008): every insert,
    update of a counted column and delete of a record adds or takes away its share in the
    same transaction, whichever code wrote it (the download view, the lease sweep, a bulk
    load, the cascade of a deleted dataset or user).
    """

    day = models.DateField()
    dataset_id = models.IntegerField()  # a plain number, 0 for none: see the triggers
    outcome = models.CharField(max_length=20, choices=DownloadRecord.Outcome.choices)
    records = models.IntegerField()
    bytes_sent = models.BigIntegerField()

    class Meta:
        verbose_name_plural = "daily usage"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "dataset_id", "outcome"], name="one_daily_usage_row"
            )
        ]

    def __str__(self):
        return f"{self.day} dataset {self.dataset_id} {self.outcome}: {self.records}"


class DailyUserUsage(models.Model):
    """The downloads (records of a delivered outcome, downloads.usage.DELIVERED) of one day
    and logged-in user, all datasets together: the dashboard's top users. Kept by the same
    triggers."""

    day = models.DateField()
    user_id = models.IntegerField()
    downloads = models.IntegerField()
    bytes_sent = models.BigIntegerField()

    class Meta:
        verbose_name_plural = "daily user usage"
        constraints = [
            models.UniqueConstraint(fields=["day", "user_id"], name="one_daily_user_usage_row")
        ]

    def __str__(self):
        return f"{self.day} user {self.user_id}: {self.downloads}"


class DailyDatasetUserUsage(models.Model):
    """The same per dataset too: the top users of one dataset. A separate table, as the
    page without a dataset filter would otherwise add up a row per dataset and user."""

    day = models.DateField()
    dataset_id = models.IntegerField()  # 0 for none
    user_id = models.IntegerField()
    downloads = models.IntegerField()
    bytes_sent = models.BigIntegerField()

    class Meta:
        verbose_name_plural = "daily dataset user usage"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "dataset_id", "user_id"], name="one_daily_dataset_user_usage_row"
            )
        ]

    def __str__(self):
        return f"{self.day} dataset {self.dataset_id} user {self.user_id}: {self.downloads}"


UNLIMITED = -1
limit_field_help = "-1 = unlimited"


class QuotaDefaults(models.Model):
    """The limits of every user without their own (one row, edited by stewards)."""

    max_quota = models.IntegerField(
        "maxQuota", default=UNLIMITED, help_text="Downloads per period. " + limit_field_help
    )
    rate_limit = models.IntegerField(
        "rateLimit", default=UNLIMITED, help_text="Simultaneous downloads. " + limit_field_help
    )
    max_volume = models.BigIntegerField(
        "maxVolume", default=UNLIMITED, help_text="Bytes per period. " + limit_field_help
    )

    class Meta:
        verbose_name = verbose_name_plural = "quota defaults"
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="single_quota_defaults_row"),
            models.CheckConstraint(
                condition=models.Q(max_quota__gte=-1, rate_limit__gte=-1, max_volume__gte=-1),
                name="quota_defaults_at_least_minus_one",
            ),
        ]

    def __str__(self):
        return "Default quota limits"

    @classmethod
    def current(cls):
        return cls.objects.get_or_create(pk=1)[0]


class Quota(models.Model):
    """Limits and usage of one user, or of one client address for anonymous downloads.

    Counters change only through conditional UPDATEs or under this row's lock
    (downloads.quotas), never by reading then writing in Python.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="quota",
    )
    client_address = models.GenericIPAddressField(null=True, blank=True, unique=True)
    # None: the default limit applies.
    max_quota = models.IntegerField("maxQuota", null=True, blank=True, help_text=limit_field_help)
    rate_limit = models.IntegerField("rateLimit", null=True, blank=True, help_text=limit_field_help)
    max_volume = models.BigIntegerField(
        "maxVolume", null=True, blank=True, help_text=limit_field_help
    )
    current_quota = models.IntegerField("downloads", default=0)
    current_volume = models.BigIntegerField("bytes", default=0)
    since = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False) ^ models.Q(client_address__isnull=False),
                name="quota_for_a_user_or_an_address",
            ),
            models.CheckConstraint(
                condition=models.Q(max_quota__gte=-1, rate_limit__gte=-1, max_volume__gte=-1),
                name="quota_limits_at_least_minus_one",
            ),
        ]

    def __str__(self):
        return self.user.email if self.user_id else f"anonymous {self.client_address}"


class RestoreRequest(models.Model):
    """A request to copy a nearline file into its location's cache (SPEC §3 Availability).

    At most one request per file is PENDING or RUNNING (a database constraint), so
    repeated restore calls never queue the same copy twice.
    """

    class Status(models.TextChoices):
        PENDING = "PENDING"
        RUNNING = "RUNNING"
        DONE = "DONE"
        FAILED = "FAILED"

    ACTIVE = (Status.PENDING, Status.RUNNING)

    data_file = models.ForeignKey(
        "products.DataFile", on_delete=models.CASCADE, related_name="restore_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    requested = models.DateTimeField(auto_now_add=True, db_index=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    available_until = models.DateTimeField(null=True, blank=True, db_index=True)
    purged = models.BooleanField(default=False, help_text="The cached copy has been deleted.")
    # RUNNING on a storage that restores in the background (s3): when a worker next asks
    # the storage whether the copy is ready. None while a worker copies the file itself.
    next_poll = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested"]
        constraints = [
            models.UniqueConstraint(
                fields=["data_file"],
                condition=models.Q(status__in=["PENDING", "RUNNING"]),
                name="one_active_restore_per_file",
            )
        ]
        indexes = [models.Index(fields=["status", "requested"])]

    def __str__(self):
        return f"restore of {self.data_file} ({self.status})"
