"""Catalog import (SPEC §9): validate a whole JSON document, then upsert it in one transaction.

The document is checked entirely before anything is written, so that a steward sees every
mistake at once and a bad document leaves the database as it was.
"""

import dataclasses
import datetime
import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from downloads.storage import get_location
from products.models import (
    LICENSE_ID,
    AccessGroup,
    AccessRight,
    DataFile,
    Dataset,
    License,
    Product,
    validate_checksum,
    validate_dataset_urn,
    validate_product_urn,
)
from storage_client import InvalidKey
from storage_client.base import validate_key

KINDS = ("licenses", "groups", "datasets", "products")
GEOJSON_TYPES = frozenset(
    {
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "GeometryCollection",
    }
)
MAX_VERSION = 2**31 - 1  # the column sizes
MAX_FILESIZE = 2**63 - 1
# Keeps each query well under SQLite's limit on bound parameters.
BATCH = 500


class CatalogError(Exception):
    """The document is invalid; `errors` lists every problem, each naming entry and field."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


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


def catalog_load(*, document: Any) -> ImportSummary:
    """Upsert a catalog document, all or nothing; CatalogError lists every problem found."""
    with transaction.atomic():
        # Validation reads referenced rows inside the transaction too: should one vanish
        # before the writes, a constraint fails and everything rolls back.
        plan = _Validator(document).run()
        return _write(plan)


# Validation ------------------------------------------------------------------------------


class Invalid(Exception):
    """One field's value is wrong; the message completes "<entry>.<field>: …"."""


@dataclasses.dataclass(frozen=True)
class Field:
    kind: str  # a key of TYPES
    required: bool = False
    nullable: bool = False
    max_length: int | None = None
    check: Callable[[Any], Any] | None = None  # returns the cleaned value or raises Invalid


TYPES = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}
ARTICLES = {"integer": "an", "object": "an", "array": "an"}


def show(value):
    """A value as it appears in the document, cut short when long."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "…"


def _unstorable(value):
    """Why the database cannot store this value, or None."""
    if isinstance(value, str):
        return "contains a NUL character" if "\x00" in value else None
    if isinstance(value, dict | list):
        try:
            text = json.dumps(value, allow_nan=False)
        except ValueError:
            return "contains NaN or Infinity, which JSON does not allow"
        return "contains a NUL character" if "\\u0000" in text else None
    return None


def _django_validator(validator):
    def check(value):
        try:
            validator(value)
        except ValidationError as error:
            params = {**(error.params or {}), "value": show(value)}
            raise Invalid((error.message % params).rstrip(".")) from None
        return value

    return check


def _choice(choices):
    def check(value):
        if value not in choices:
            raise Invalid(f"{show(value)} is not one of {', '.join(choices)}")
        return value

    return check


def _http_url(value):
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise Invalid(f"{show(value)} is not an http(s) URL") from None
    return value


def _license_id(value):
    # Licence ids appear in URL paths (/licenses/{id}); "cc-by-4.0" has a dot, so not a slug.
    if not LICENSE_ID.regex.search(value):
        raise Invalid(f"{show(value)} is not a licence id (letters, digits, '.', '_', '-')")
    return value


def _version(value):
    if not 1 <= value <= MAX_VERSION:
        raise Invalid(f"{value} is not a version number (1 to {MAX_VERSION})")
    return value


def _filesize(value):
    if value < 0:
        raise Invalid(f"{value} is negative")
    if value > MAX_FILESIZE:
        raise Invalid(f"{value} is larger than {MAX_FILESIZE}")
    return value


def _non_empty(value):
    if not value.strip():
        raise Invalid("must not be empty")
    return value


def _strings(value):
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise Invalid(f"item {index} is {show(item)}, not a string")
    return value


def _datetime(value):
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{show(value)} is not an ISO 8601 date-time") from None
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=datetime.UTC)  # the catalog's dates are in UTC
    return parsed


def _geometry(value):
    if "type" not in value:
        raise Invalid('a GeoJSON geometry has a "type"')
    if not isinstance(value["type"], str) or value["type"] not in GEOJSON_TYPES:
        raise Invalid(f"{show(value.get('type'))} is not a GeoJSON geometry type")
    return value


def _digest_algorithm(value):
    name = value.lower().replace("-", "")
    if name not in hashlib.algorithms_guaranteed or name.startswith("shake"):
        raise Invalid(f"{show(value)} is not a digest algorithm (MD5, SHA-1, SHA-256, …)")
    return value


def _storage_key(value):
    try:
        return validate_key(value)
    except InvalidKey as error:
        raise Invalid(str(error)) from None


LICENSE_FIELDS = {
    "id": Field("string", required=True, max_length=100, check=_license_id),
    "title": Field("string", required=True, max_length=300, check=_non_empty),
    "url": Field("string", max_length=2000, check=_http_url),
    "text": Field("string"),
    "version": Field("integer", check=_version),
}
GROUP_FIELDS = {
    "name": Field("string", required=True, max_length=100, check=_non_empty),
    "public": Field("boolean"),
}
DATASET_FIELDS = {
    "id": Field(
        "string", required=True, max_length=200, check=_django_validator(validate_dataset_urn)
    ),
    "label": Field("string", required=True, max_length=500, check=_non_empty),
    "license": Field("string", nullable=True),
    "access": Field("array"),
}
ACCESS_FIELDS = {
    "group": Field("string", required=True),
    "metadata": Field("string", required=True, check=_choice(AccessRight.MetadataAccess.values)),
    "files": Field("string", check=_choice(AccessRight.FileAccess.values)),
}
PRODUCT_FIELDS = {
    "id": Field(
        "string", required=True, max_length=200, check=_django_validator(validate_product_urn)
    ),
    "providerId": Field("string", required=True, max_length=500, check=_non_empty),
    "dataset": Field("string", required=True),
    "label": Field("string", required=True, max_length=500, check=_non_empty),
    "model": Field("string", max_length=100, check=_non_empty),
    "tags": Field("array", check=_strings),
    "properties": Field("object"),
    "geometry": Field("object", nullable=True, check=_geometry),
    "start_date": Field("string", nullable=True, check=_datetime),
    "end_date": Field("string", nullable=True, check=_datetime),
    "files": Field("array"),
}
FILE_FIELDS = {
    "dataType": Field("string", required=True, check=_choice(DataFile.DataType.values)),
    "filename": Field("string", required=True, max_length=255, check=_non_empty),
    "mimeType": Field("string", max_length=255, check=_non_empty),
    "checksum": Field(
        "string", required=True, max_length=128, check=_django_validator(validate_checksum)
    ),
    "digestAlgorithm": Field("string", max_length=20, check=_digest_algorithm),
    "filesize": Field("integer", required=True, check=_filesize),
    "reference": Field("boolean"),
    "uri": Field("string", max_length=2000, check=_http_url),
    "storage": Field("string", max_length=100),
    "key": Field("string", max_length=1000, check=_storage_key),
    "types": Field("array", check=_strings),
}


@dataclasses.dataclass
class Plan:
    """The validated document, in model terms, ready to write."""

    licenses: list[dict] = dataclasses.field(default_factory=list)
    groups: list[dict] = dataclasses.field(default_factory=list)
    datasets: list[dict] = dataclasses.field(default_factory=list)
    products: list[dict] = dataclasses.field(default_factory=list)


class _Validator:
    def __init__(self, document):
        self.document = document
        self.errors = []
        self.locations = {}

    def run(self) -> Plan:
        if not isinstance(self.document, dict):
            expected = f"expected an object with keys {', '.join(KINDS)}"
            raise CatalogError([f"document: {expected}, not {show(self.document)}"])
        sections = {}
        for kind in self.document:
            if kind not in KINDS:
                self.error("document", f"unknown key {show(kind)} (expected {', '.join(KINDS)})")
        for kind in KINDS:
            section = self.document.get(kind, [])
            if not isinstance(section, list):
                self.error(kind, f"expected an array, not {show(section)}")
                section = []
            sections[kind] = section

        self.known_licenses = self._known(
            sections["licenses"], "id", sections["datasets"], "license", License, "slug"
        )
        access = list(self._access_entries(sections["datasets"]))
        self.known_groups = self._known(
            sections["groups"], "name", access, "group", AccessGroup, "name"
        )
        self.known_datasets = self._known(
            sections["datasets"], "id", sections["products"], "dataset", Dataset, "urn"
        )

        plan = Plan(
            licenses=self._section(sections["licenses"], "licenses", "id", self.license),
            groups=self._section(sections["groups"], "groups", "name", self.group),
            datasets=self._section(sections["datasets"], "datasets", "id", self.dataset),
            products=self._section(sections["products"], "products", "id", self.product),
        )
        if self.errors:
            raise CatalogError(self.errors)
        return plan

    def error(self, where, message):
        self.errors.append(f"{where}: {message}")

    # What references may point to: the keys in the document plus those already stored.

    @staticmethod
    def _access_entries(datasets):
        for dataset in datasets:
            if isinstance(dataset, dict) and isinstance(dataset.get("access"), list):
                yield from dataset["access"]

    @staticmethod
    def _known(entries, key, referrers, reference, model, column):
        declared = {e[key] for e in entries if isinstance(e, dict) and isinstance(e.get(key), str)}
        wanted = {
            r[reference]
            for r in referrers
            if isinstance(r, dict) and isinstance(r.get(reference), str)
        } - declared
        return declared | set(_ids(model, column, wanted))

    # Walking the document.

    def _section(self, entries, kind, key, clean_entry):
        cleaned = []
        seen = {}
        for index, entry in enumerate(entries):
            name = f"{kind}[{index}]"
            if isinstance(entry, dict) and isinstance(entry.get(key), str):
                name = f"{name} ({entry[key]})"
                if entry[key] in seen:
                    self.error(f"{name}.{key}", f"duplicate of {seen[entry[key]]}")
                else:
                    seen[entry[key]] = f"{kind}[{index}]"
            result = clean_entry(entry, name)
            if result is not None:
                cleaned.append(result)
        return cleaned

    def _fields(self, entry, where, spec):
        """The entry's values checked against spec; None for each field that is wrong."""
        if not isinstance(entry, dict):
            self.error(where, f"expected an object, not {show(entry)}")
            return None
        values = {}
        for name in entry:
            if name not in spec:
                self.error(f"{where}.{name}", "unknown field")
        for name, field in spec.items():
            values[name] = self._value(entry, name, field, f"{where}.{name}")
        return values

    def _value(self, entry, name, field, where):
        if name not in entry:
            if field.required:
                self.error(where, "is required")
            return None
        value = entry[name]
        if value is None:
            if not field.nullable:
                self.error(where, "must not be null")
            return None
        types = TYPES[field.kind]
        # bool is an int in Python, but "filesize": true is a mistake.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            article = ARTICLES.get(field.kind, "a")
            self.error(where, f"{show(value)} is not {article} {field.kind}")
            return None
        if field.max_length is not None and len(value) > field.max_length:
            self.error(where, f"is longer than {field.max_length} characters")
            return None
        # PostgreSQL stores neither NUL characters nor NaN in text and JSON columns.
        problem = _unstorable(value)
        if problem:
            self.error(where, problem)
            return None
        if field.check is not None:
            try:
                return field.check(value)
            except Invalid as error:
                self.error(where, str(error))
                return None
        return value

    def _reference(self, value, known, where, what):
        if value is not None and value not in known:
            self.error(where, f"{what} {show(value)} is neither in the document nor in the catalog")

    # One function per kind of entry: check, then translate to model field names.

    def license(self, entry, where):
        values = self._fields(entry, where, LICENSE_FIELDS)
        if values is None:
            return None
        return {
            "slug": values["id"],
            "title": values["title"],
            "url": values["url"] or "",
            "text": values["text"] or "",
            "version": values["version"],
        }

    def group(self, entry, where):
        values = self._fields(entry, where, GROUP_FIELDS)
        if values is None:
            return None
        return {"name": values["name"], "public": bool(values["public"])}

    def dataset(self, entry, where):
        values = self._fields(entry, where, DATASET_FIELDS)
        if values is None:
            return None
        self._reference(values["license"], self.known_licenses, f"{where}.license", "licence")
        access = None
        if values["access"] is not None:
            access = []
            groups = {}
            for index, item in enumerate(values["access"]):
                item_where = f"{where}.access[{index}]"
                right = self._fields(item, item_where, ACCESS_FIELDS)
                if right is None:
                    continue
                group = right["group"]
                self._reference(group, self.known_groups, f"{item_where}.group", "group")
                if group in groups:
                    self.error(
                        f"{item_where}.group", f"{show(group)} is already in {groups[group]}"
                    )
                elif group is not None:
                    groups[group] = f"access[{index}]"
                access.append(
                    {
                        "group": group,
                        "metadata_access": right["metadata"],
                        "file_access": right["files"] or AccessRight.FileAccess.NO_ACCESS,
                    }
                )
        return {
            "urn": values["id"],
            "label": values["label"],
            "license": values["license"],
            "access": access,
        }

    def product(self, entry, where):
        values = self._fields(entry, where, PRODUCT_FIELDS)
        if values is None:
            return None
        self._reference(values["dataset"], self.known_datasets, f"{where}.dataset", "dataset")
        start, end = values["start_date"], values["end_date"]
        if start is not None and end is not None and end < start:
            self.error(f"{where}.end_date", "is before start_date")
        files = None
        if values["files"] is not None:
            files = []
            checksums = {}
            for index, item in enumerate(values["files"]):
                data_file = self.data_file(item, f"{where}.files[{index}]")
                if data_file is None:
                    continue
                checksum = data_file["checksum"]
                if checksum is not None and checksum in checksums:
                    self.error(
                        f"{where}.files[{index}].checksum",
                        f"{show(checksum)} is already the checksum of {checksums[checksum]}",
                    )
                elif checksum is not None:
                    checksums[checksum] = f"files[{index}]"
                files.append(data_file)
        return {
            "urn": values["id"],
            "provider_id": values["providerId"],
            "dataset": values["dataset"],
            "label": values["label"],
            "model": values["model"] or "DATA",
            "tags": values["tags"] if values["tags"] is not None else [],
            "properties": values["properties"] if values["properties"] is not None else {},
            "geometry": values["geometry"],
            "start_date": start,
            "end_date": end,
            "files": files,
        }

    def data_file(self, entry, where):
        values = self._fields(entry, where, FILE_FIELDS)
        if values is None:
            return None
        algorithm = values["digestAlgorithm"] or "MD5"
        # Checksums are compared and served lower-case, whatever case the document used.
        checksum = values["checksum"].lower() if values["checksum"] is not None else None
        if values["digestAlgorithm"] is not None or "digestAlgorithm" not in entry:
            self._digest_length(checksum, algorithm, where)
        if values["reference"]:
            if "uri" not in entry:
                self.error(f"{where}.uri", "is required for a reference file")
            for name in ("storage", "key"):
                if name in entry:
                    self.error(f"{where}.{name}", "a reference file is not stored here")
        else:
            if "uri" in entry:
                self.error(f"{where}.uri", 'only a reference file ("reference": true) has one')
            storage = values["storage"]
            if "storage" not in entry:
                self.error(f"{where}.storage", "is required unless the file is a reference")
            elif storage is not None and self._location(storage) is None:
                self.error(f"{where}.storage", f"{show(storage)} is not a storage location")
        return {
            "data_type": values["dataType"],
            "filename": values["filename"],
            "mime_type": values["mimeType"] or "application/octet-stream",
            "checksum": checksum,
            "digest_algorithm": algorithm,
            "filesize": values["filesize"],
            "reference": bool(values["reference"]),
            "uri": values["uri"] or "",
            "storage": values["storage"] or "",
            "key": values["key"] or "",
            "types": values["types"] if values["types"] is not None else [],
        }

    def _digest_length(self, checksum, algorithm, where):
        if checksum is None:
            return
        try:
            expected = hashlib.new(algorithm.lower().replace("-", "")).digest_size * 2
        except ValueError:
            return  # the algorithm itself is reported
        if len(checksum) != expected:
            self.error(
                f"{where}.checksum",
                f"{show(checksum)} has {len(checksum)} hexadecimal digits, "
                f"a {algorithm} digest has {expected}",
            )

    def _location(self, name):
        if name not in self.locations:
            self.locations[name] = get_location(name)
        return self.locations[name]


# Writing ---------------------------------------------------------------------------------


def _batches(items: list, size: int = BATCH) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _ids(model, column, keys) -> dict:
    """{key: primary key} for the rows of `model` whose `column` is in keys."""
    found = {}
    for batch in _batches(sorted(set(keys))):
        found.update(model.objects.filter(**{f"{column}__in": batch}).values_list(column, "pk"))
    return found


def _write(plan: Plan) -> ImportSummary:
    summary = ImportSummary()
    _write_licenses(plan.licenses, summary.licenses)
    _write_groups(plan.groups, summary.groups)
    _write_datasets(plan.datasets, summary.datasets)
    _write_products(plan.products, summary.products, summary.files)
    return summary


def _write_licenses(entries, counts):
    slugs = [entry["slug"] for entry in entries]
    existing = {licence.slug: licence for licence in License.objects.filter(slug__in=slugs)}
    for entry in entries:
        licence = existing.get(entry["slug"])
        if licence is None:
            License.objects.create(**{**entry, "version": entry["version"] or 1})
            counts.created += 1
            continue
        # A new text is a new version even when the document forgot to bump it; a version
        # given higher than the stored one is a steward forcing re-acceptance.
        licence.publish(
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
    existing = _ids(AccessGroup, "name", [entry["name"] for entry in entries])
    _upsert(AccessGroup, [AccessGroup(**entry) for entry in entries], ["name"], ["public"])
    counts.updated = sum(entry["name"] in existing for entry in entries)
    counts.created = len(entries) - counts.updated


def _write_datasets(entries, counts):
    licences = _ids(License, "slug", [e["license"] for e in entries if e["license"]])
    existing = _ids(Dataset, "urn", [entry["urn"] for entry in entries])
    datasets = [
        Dataset(urn=entry["urn"], label=entry["label"], license_id=licences.get(entry["license"]))
        for entry in entries
    ]
    _upsert(Dataset, datasets, ["urn"], ["label", "license", "updated"])
    counts.updated = sum(entry["urn"] in existing for entry in entries)
    counts.created = len(entries) - counts.updated

    # An access list replaces the dataset's rights; a dataset without one keeps its rights.
    replaced = [entry for entry in entries if entry["access"] is not None]
    if not replaced:
        return
    dataset_ids = _ids(Dataset, "urn", [entry["urn"] for entry in replaced])
    group_ids = _ids(AccessGroup, "name", [r["group"] for e in replaced for r in e["access"]])
    for batch in _batches(list(dataset_ids.values())):
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
]


def _write_products(entries, counts, file_counts):
    datasets = _ids(Dataset, "urn", [entry["dataset"] for entry in entries])
    existing = _ids(Product, "urn", [entry["urn"] for entry in entries])
    products = []
    for entry in entries:
        fields = {k: v for k, v in entry.items() if k not in ("files", "dataset")}
        products.append(Product(dataset_id=datasets[entry["dataset"]], **fields))
    _upsert(Product, products, ["urn"], PRODUCT_UPDATE_FIELDS)
    counts.updated = sum(entry["urn"] in existing for entry in entries)
    counts.created = len(entries) - counts.updated

    # A files list replaces the product's files. A file is matched by checksum, so one that
    # stays keeps its id (download records point to it); a product without a list keeps its files.
    replaced = [entry for entry in entries if entry["files"] is not None]
    if not replaced:
        return
    product_ids = _ids(Product, "urn", [entry["urn"] for entry in replaced])
    stored = {}
    for batch in _batches(list(product_ids.values())):
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
    for batch in _batches(gone):
        DataFile.objects.filter(pk__in=batch).delete()
    _upsert(DataFile, files, ["product", "checksum"], FILE_UPDATE_FIELDS)
    file_counts.created = len(files) - file_counts.updated
    file_counts.deleted = len(gone)
