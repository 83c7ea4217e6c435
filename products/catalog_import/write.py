"""Writing a validated catalog document: upserts by key, in batches."""

import dataclasses

from django.db.models import F

from products.catalog_import.rows import BATCH, batches, ids
from products.catalog_import.validate import Plan
from products.models import AccessGroup, AccessRight, DataFile, Dataset, License, Product
from products.services import dataset_summarize


@dataclasses.dataclass
class Counts:
    created: int = 0
    updated: int = 0
    deleted: int | None = None  # only for kinds whose rows an import removes

    def __str__(self):
        text = f"{self.created} created, {self.updated} updated"
        return text if self.deleted is None else f"{text}, {self.deleted} deleted"


@dataclasses.dataclass
class ImportSummary:
    licenses: Counts = dataclasses.field(default_factory=Counts)
    groups: Counts = dataclasses.field(default_factory=Counts)
    datasets: Counts = dataclasses.field(default_factory=Counts)
    products: Counts = dataclasses.field(default_factory=Counts)
    files: Counts = dataclasses.field(default_factory=lambda: Counts(deleted=0))

    def __str__(self):
        return "; ".join(
            f"{field.name}: {getattr(self, field.name)}" for field in dataclasses.fields(self)
        )


def write_plan(plan: Plan) -> ImportSummary:
    summary = ImportSummary()
    _write_licenses(plan.licenses, summary.licenses)
    _write_groups(plan.groups, summary.groups)
    _write_datasets(plan.datasets, summary.datasets)
    changed = _write_products(plan.products, summary.products, summary.files)
    # Bulk writes send no signals: the datasets whose products changed are summarized here
    # (Dataset.summaries), so that STAC's first reader does not wait for it.
    Dataset.objects.filter(pk__in=changed).update(products_version=F("products_version") + 1)
    for dataset in Dataset.objects.filter(pk__in=changed).order_by("pk"):
        dataset_summarize(dataset=dataset)
    return summary


def _write_licenses(entries, counts):
    slugs = [entry["slug"] for entry in entries]
    existing = {license.slug: license for license in License.objects.filter(slug__in=slugs)}
    for entry in entries:
        license = existing.get(entry["slug"])
        if license is None:
            License.objects.create(**{**entry, "version": entry["version"] or 1})
            counts.created += 1
            continue
        # A new text is a new version even when the document forgot to bump it; a version
        # given higher than the stored one is a steward forcing re-acceptance.
        license.publish(
            title=entry["title"], url=entry["url"], text=entry["text"], version=entry["version"]
        )
        counts.updated += 1


def _upsert(model, objects, unique_fields, update_fields):
    """INSERT … ON CONFLICT DO UPDATE: one statement per batch, ids of existing rows kept."""
    model.objects.bulk_create(
        objects,
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=unique_fields,
        update_fields=update_fields,
    )


def _write_groups(entries, counts):
    existing = ids(AccessGroup, "name", [entry["name"] for entry in entries])
    _upsert(AccessGroup, [AccessGroup(**entry) for entry in entries], ["name"], ["public"])
    counts.updated = sum(entry["name"] in existing for entry in entries)
    counts.created = len(entries) - counts.updated


def _write_datasets(entries, counts):
    licenses = ids(License, "slug", [e["license"] for e in entries if e["license"]])
    existing = ids(Dataset, "urn", [entry["urn"] for entry in entries])
    datasets = [
        Dataset(
            urn=entry["urn"],
            label=entry["label"],
            provider_id=entry["provider_id"],
            license_id=licenses.get(entry["license"]),
        )
        for entry in entries
    ]
    _upsert(Dataset, datasets, ["urn"], ["label", "provider_id", "license", "updated"])
    counts.updated = sum(entry["urn"] in existing for entry in entries)
    counts.created = len(entries) - counts.updated

    # An access list replaces the dataset's rights; a dataset without one keeps its rights.
    replaced = [entry for entry in entries if entry["access"] is not None]
    if not replaced:
        return
    dataset_ids = ids(Dataset, "urn", [entry["urn"] for entry in replaced])
    group_ids = ids(AccessGroup, "name", [r["group"] for e in replaced for r in e["access"]])
    for batch in batches(list(dataset_ids.values())):
        AccessRight.objects.filter(dataset_id__in=batch).delete()
    AccessRight.objects.bulk_create(
        [
            AccessRight(
                dataset_id=dataset_ids[entry["urn"]],
                group_id=group_ids[right["group"]],
                metadata_access=right["metadata_access"],
                file_access=right["file_access"],
            )
            for entry in replaced
            for right in entry["access"]
        ],
        batch_size=BATCH,
    )


PRODUCT_UPDATE_FIELDS = [
    "provider_id",
    "label",
    "dataset",
    "model",
    "tags",
    "properties",
    "geometry",
    "start_date",
    "end_date",
    *Product.SPATIAL_FIELDS,
    "updated",
]
FILE_UPDATE_FIELDS = [
    "data_type",
    "filename",
    "mime_type",
    "digest_algorithm",
    "filesize",
    "reference",
    "uri",
    "storage",
    "key",
    "types",
    "crc32",
    "image_width",
    "image_height",
]


def _write_products(entries, counts, file_counts):
    """Upsert the products and their files; the ids of the datasets whose products changed
    (a product moved to another dataset changes both)."""
    datasets = ids(Dataset, "urn", [entry["dataset"] for entry in entries])
    existing = ids(Product, "urn", [entry["urn"] for entry in entries])
    changed = set(datasets.values())
    for batch in batches(list(existing.values())):
        changed.update(Product.objects.filter(pk__in=batch).values_list("dataset_id", flat=True))
    products = []
    for entry in entries:
        fields = {k: v for k, v in entry.items() if k not in ("files", "dataset")}
        product = Product(dataset_id=datasets[entry["dataset"]], **fields)
        product.set_footprint()  # bulk_create does not call save()
        products.append(product)
    _upsert(Product, products, ["urn"], PRODUCT_UPDATE_FIELDS)
    counts.updated = sum(entry["urn"] in existing for entry in entries)
    counts.created = len(entries) - counts.updated

    # A files list replaces the product's files. A file is matched by checksum, so one that
    # stays keeps its id (download records point to it); a product without a list keeps its files.
    replaced = [entry for entry in entries if entry["files"] is not None]
    if not replaced:
        return changed
    product_ids = ids(Product, "urn", [entry["urn"] for entry in replaced])
    stored = {}
    for batch in batches(list(product_ids.values())):
        rows = DataFile.objects.filter(product_id__in=batch).values_list(
            "product_id", "checksum", "pk"
        )
        stored.update(((product_id, checksum), pk) for product_id, checksum, pk in rows)
    # The import writes checksums lower-case; one typed upper-case in the admin is the same file.
    for (product_id, checksum), pk in list(stored.items()):
        if checksum != checksum.lower():
            DataFile.objects.filter(pk=pk).update(checksum=checksum.lower())
            stored[product_id, checksum.lower()] = stored.pop((product_id, checksum))
    files = []
    for entry in replaced:
        product_id = product_ids[entry["urn"]]
        for fields in entry["files"]:
            if stored.pop((product_id, fields["checksum"]), None) is not None:
                file_counts.updated += 1
            files.append(DataFile(product_id=product_id, **fields))
    gone = list(stored.values())
    for batch in batches(gone):
        DataFile.objects.filter(pk__in=batch).delete()
    _upsert(DataFile, files, ["product", "checksum"], FILE_UPDATE_FIELDS)
    file_counts.created = len(files) - file_counts.updated
    file_counts.deleted = len(gone)
    return changed
