"""Licences, download records (and, later, quotas and restore requests)."""

from django.conf import settings
from django.db import models


class License(models.Model):
    slug = models.SlugField("id", max_length=100, unique=True)
    title = models.CharField(max_length=300)
    url = models.URLField(max_length=2000, blank=True)
    text = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return f"{self.title} (v{self.version})"


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
    """One download attempt that reached the storage, written when the response closes."""

    class Outcome(models.TextChoices):
        IN_PROGRESS = "IN_PROGRESS"
        COMPLETED = "COMPLETED"
        ABORTED = "ABORTED", "Aborted by the client"
        STORAGE_ERROR = "STORAGE_ERROR"
        CORRUPT = "CORRUPT", "Checksum mismatch"
        OFFLOADED = "OFFLOADED", "Handed to nginx"

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

    class Meta:
        ordering = ["-started"]
        indexes = [models.Index(fields=["outcome", "started"])]

    def __str__(self):
        return f"{self.product_urn}/{self.checksum} {self.outcome}"
