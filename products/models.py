"""The catalog: licences, datasets, products, their files, and who may see and download them."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
URN_PATTERN = r"URN:{kind}:[A-Za-z0-9_\-]{{1,64}}:{uuid}:V[0-9]{{1,4}}"
PRODUCT_URN = re.compile(URN_PATTERN.format(kind="FEATURE:DATA", uuid=UUID_PATTERN))
DATASET_URN = re.compile(URN_PATTERN.format(kind="AIP:DATASET", uuid=UUID_PATTERN))
CHECKSUM = re.compile(r"[0-9a-fA-F]{8,128}")
CRC32 = re.compile(r"[0-9a-fA-F]{8}")


def validate_product_urn(value):
    if not PRODUCT_URN.fullmatch(value):
        raise ValidationError(
            "%(value)s is not a product URN (URN:FEATURE:DATA:<tenant>:<uuid>:V<n>).",
            params={"value": value},
        )


def validate_dataset_urn(value):
    if not DATASET_URN.fullmatch(value):
        raise ValidationError(
            "%(value)s is not a dataset URN (URN:AIP:DATASET:<tenant>:<uuid>:V<n>).",
            params={"value": value},
        )


def validate_checksum(value):
    if not CHECKSUM.fullmatch(value):
        raise ValidationError("%(value)s is not a hexadecimal checksum.", params={"value": value})


def validate_crc32(value):
    if not CRC32.fullmatch(value):
        raise ValidationError(
            "%(value)s is not a CRC-32 (8 hexadecimal digits).", params={"value": value}
        )


LICENSE_ID = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z", "A licence id is made of letters, digits, '.', '_' and '-'."
)


class License(models.Model):
    slug = models.CharField("id", max_length=100, unique=True, validators=[LICENSE_ID])
    title = models.CharField(max_length=300)
    url = models.URLField(max_length=2000, blank=True)
    text = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    updated = models.DateTimeField(auto_now=True)
    project = models.BooleanField(
        "project licence",
        default=False,
        help_text="Every private download of the catalog needs this licence accepted, besides "
        "its dataset's (REGARDS's project licence). At most one licence is the project's.",
    )

    class Meta:
        ordering = ["slug"]
        db_table = "downloads_license"  # the table it had in downloads: no data moved
        constraints = [
            models.UniqueConstraint(
                fields=["project"], condition=models.Q(project=True), name="one_project_license"
            )
        ]

    def __str__(self):
        return f"{self.title} (v{self.version})"

    def publish(self, *, new_version=False, version=None, **fields):
        """Save `fields` (slug, title, url, text); a new text is a new version, which every
        user must accept again. Returns True when a new version was published.

        `new_version` publishes one even with the same text, and `version` (a catalog
        document's) is taken when above the stored one. A version never goes back: the
        acceptances of a newer version would stop counting, and older ones count again.
        """
        stored = License.objects.filter(pk=self.pk)
        while True:
            stored_version, stored_text = stored.values_list("version", "text").get()
            text_is_new = fields.get("text", stored_text) != stored_text
            bumped = stored_version + 1 if new_version or text_is_new else stored_version
            next_version = max(version or 0, bumped)
            now = timezone.now()
            # Conditional on the version read: if a steward or an import published meanwhile,
            # this publication is applied again on top of theirs, never over it.
            if stored.filter(version=stored_version).update(
                version=next_version, updated=now, **fields
            ):
                break
        for name, value in {**fields, "version": next_version, "updated": now}.items():
            setattr(self, name, value)
        return next_version != stored_version


class AccessGroup(models.Model):
    name = models.CharField(max_length=100, unique=True)
    public = models.BooleanField(
        default=False, help_text="Every user, and anonymous callers, belong to a public group."
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="access_groups"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Dataset(models.Model):
    urn = models.CharField("id", max_length=200, unique=True, validators=[validate_dataset_urn])
    label = models.CharField(max_length=500)
    provider_id = models.CharField(
        "providerId", max_length=500, blank=True, help_text="Blank: the label."
    )
    license = models.ForeignKey(
        License,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="datasets",
    )
    # REGARDS's dataset DESCRIPTION file (…/datasets/{urn}/description): a file of one of
    # the dataset's products, so that it is downloaded with that product's access rules.
    description_file = models.ForeignKey(
        "DataFile",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        limit_choices_to={"data_type": "DESCRIPTION"},
        help_text="A DESCRIPTION file of one of this dataset's products.",
    )
    # What STAC shows of the products: their extent and the summaries of their properties
    # (products.stac.dataset_summarize). Stored, because computing them reads every product
    # (seconds for a million); recomputed when read after a product changed, that is when
    # `summarized_version` lags `products_version`, which every product save and delete
    # moves on (products/signals.py), and by the catalog import.
    extent_west = models.FloatField(null=True, editable=False)
    extent_south = models.FloatField(null=True, editable=False)
    extent_east = models.FloatField(null=True, editable=False)
    extent_north = models.FloatField(null=True, editable=False)
    extent_start = models.DateTimeField(null=True, editable=False)
    extent_end = models.DateTimeField(null=True, editable=False)
    summaries = models.JSONField(null=True, editable=False, encoder=DjangoJSONEncoder)
    products_version = models.PositiveBigIntegerField(default=0, editable=False)
    summarized_version = models.PositiveBigIntegerField(null=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["label"]

    def __str__(self):
        return self.label

    @property
    def provider_id_or_label(self):
        return self.provider_id or self.label

    def clean(self):
        described = self.description_file
        if described is None:
            return
        if described.data_type != DataFile.DataType.DESCRIPTION:
            raise ValidationError({"description_file": "Choose a file of type DESCRIPTION."})
        if described.product.dataset_id != self.pk:
            raise ValidationError({"description_file": "Choose a file of this dataset."})


class AccessRight(models.Model):
    class MetadataAccess(models.TextChoices):
        NO_ACCESS = "NO_ACCESS"
        RESTRICTED_ACCESS = "RESTRICTED_ACCESS"  # the dataset is visible, its products are not
        FULL_ACCESS = "FULL_ACCESS"

    class FileAccess(models.TextChoices):
        NO_ACCESS = "NO_ACCESS"
        INHERITED_ACCESS = "INHERITED_ACCESS"

    group = models.ForeignKey(AccessGroup, on_delete=models.CASCADE, related_name="rights")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="access_rights")
    metadata_access = models.CharField(
        "metadataAccessLevel", max_length=20, choices=MetadataAccess.choices
    )
    file_access = models.CharField(
        "fileAccessLevel", max_length=20, choices=FileAccess.choices, default=FileAccess.NO_ACCESS
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "dataset"], name="one_right_per_group_dataset")
        ]

    def __str__(self):
        return f"{self.group} → {self.dataset}: {self.metadata_access}/{self.file_access}"


class Product(models.Model):
    urn = models.CharField("id", max_length=200, unique=True, validators=[validate_product_urn])
    provider_id = models.CharField("providerId", max_length=500, db_index=True)
    label = models.CharField(max_length=500, db_index=True)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="products")
    model = models.CharField(max_length=100, default="DATA")
    tags = models.JSONField(default=list, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    geometry = models.JSONField(null=True, blank=True)
    start_date = models.DateTimeField(null=True, blank=True, db_index=True)
    end_date = models.DateTimeField(null=True, blank=True)
    # The box of `geometry`, for the SQL step of spatial search (products.spatial);
    # null when there is no geometry. Written by save() and by the catalog import.
    bbox_west = models.FloatField(null=True, blank=True, editable=False)
    bbox_south = models.FloatField(null=True, blank=True, editable=False)
    bbox_east = models.FloatField(null=True, blank=True, editable=False)
    bbox_north = models.FloatField(null=True, blank=True, editable=False)
    # `geometry` as shapely read it, in 2D WKB: what the exact spatial test reads, and on
    # PostgreSQL with PostGIS what its GiST index covers (migration 0009). Null with the box.
    footprint = models.BinaryField(null=True, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    BBOX_FIELDS = ("bbox_west", "bbox_south", "bbox_east", "bbox_north")
    SPATIAL_FIELDS = (*BBOX_FIELDS, "footprint")

    class Meta:
        ordering = ["id"]
        # The GIN index on `properties` and `tags` is created by a PostgreSQL-only migration.
        indexes = [
            models.Index(fields=["bbox_south", "bbox_north"]),
            models.Index(fields=["bbox_west", "bbox_east"]),
        ]

    def __str__(self):
        return self.provider_id

    def save(self, *args, **kwargs):
        self.set_footprint()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "geometry" in update_fields:
            kwargs["update_fields"] = {*update_fields, *self.SPATIAL_FIELDS}
        super().save(*args, **kwargs)

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # The dataset it was read in: a product moved to another dataset changes both
        # datasets' summaries (products.signals).
        instance.stored_dataset_id = instance.__dict__.get("dataset_id")
        return instance

    def set_footprint(self):
        """Set the bbox columns and the footprint from `geometry` (all None when it has no
        point or is not a geometry shapely reads: such a product never matches a shape)."""
        from products.spatial import footprint_of  # spatial imports shapely: load it lazily

        footprint, bbox = footprint_of(self.geometry)
        self.footprint = footprint
        for name, value in zip(self.BBOX_FIELDS, bbox, strict=True):
            setattr(self, name, value)

    @property
    def bbox(self):
        """[west, south, east, north] of the geometry (RFC 7946 §5), or None."""
        values = [getattr(self, name) for name in self.BBOX_FIELDS]
        return None if None in values else values

    @property
    def version(self):
        return int(self.urn.rpartition(":V")[2])

    @property
    def virtual_id(self):
        """The URN naming whichever version is the last (REGARDS: version replaced by LAST)."""
        return self.urn.rpartition(":V")[0] + ":LAST"


class DataFile(models.Model):
    class DataType(models.TextChoices):
        RAWDATA = "RAWDATA"
        QUICKLOOK_SD = "QUICKLOOK_SD"
        QUICKLOOK_MD = "QUICKLOOK_MD"
        QUICKLOOK_HD = "QUICKLOOK_HD"
        DOCUMENT = "DOCUMENT"
        THUMBNAIL = "THUMBNAIL"
        OTHER = "OTHER"
        AIP = "AIP"
        DESCRIPTION = "DESCRIPTION"

    # Need only metadata access: no file-access, licence or quota check (SPEC §3).
    PUBLIC_TYPES = frozenset(
        {
            DataType.QUICKLOOK_SD,
            DataType.QUICKLOOK_MD,
            DataType.QUICKLOOK_HD,
            DataType.THUMBNAIL,
            DataType.DESCRIPTION,
        }
    )

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="files")
    data_type = models.CharField("dataType", max_length=20, choices=DataType.choices)
    filename = models.CharField(max_length=255)
    mime_type = models.CharField("mimeType", max_length=255, default="application/octet-stream")
    checksum = models.CharField(max_length=128, validators=[validate_checksum])
    digest_algorithm = models.CharField("digestAlgorithm", max_length=20, default="MD5")
    filesize = models.BigIntegerField()
    reference = models.BooleanField(
        default=False, help_text="Served elsewhere: downloads redirect to the external URI."
    )
    uri = models.URLField("external URI", max_length=2000, blank=True)
    storage = models.CharField("storage location", max_length=100, blank=True)
    key = models.CharField("storage key", max_length=1000, blank=True)
    types = models.JSONField(default=list, blank=True)
    crc32 = models.CharField(max_length=8, blank=True, validators=[validate_crc32])
    image_width = models.PositiveIntegerField("imageWidth", null=True, blank=True)
    image_height = models.PositiveIntegerField("imageHeight", null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "checksum"], name="unique_checksum_per_product"
            ),
            models.CheckConstraint(
                condition=models.Q(filesize__gte=0), name="filesize_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["filename"]), models.Index(fields=["data_type"])]

    def __str__(self):
        return self.filename

    @property
    def is_public_type(self):
        return self.data_type in self.PUBLIC_TYPES

    @property
    def is_raw_data(self):
        """The product's data itself, the only type REGARDS counts towards maxQuota
        (FileDownloadService.isRawData)."""
        return self.data_type == self.DataType.RAWDATA

    @property
    def storage_key(self):
        return self.key or self.checksum
