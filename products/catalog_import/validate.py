"""Validation of a whole catalog document: every problem is found, each naming its entry
and field, before anything is written."""

import dataclasses
import hashlib

from products.catalog_import.rows import ids
from products.catalog_import.schema import (
    ACCESS_FIELDS,
    ARTICLES,
    DATASET_FIELDS,
    FILE_FIELDS,
    GROUP_FIELDS,
    KINDS,
    LICENSE_FIELDS,
    PRODUCT_FIELDS,
    TYPES,
    Invalid,
    show,
    unstorable,
)
from products.models import AccessGroup, AccessRight, Dataset, License
from regards_catalog.storage import get_location


class CatalogError(Exception):
    """The document is invalid; `errors` lists every problem, each naming entry and field."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


@dataclasses.dataclass
class Plan:
    """The validated document, in model terms, ready to write."""

    licenses: list[dict] = dataclasses.field(default_factory=list)
    groups: list[dict] = dataclasses.field(default_factory=list)
    datasets: list[dict] = dataclasses.field(default_factory=list)
    products: list[dict] = dataclasses.field(default_factory=list)


class Validator:
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
        return declared | set(ids(model, column, wanted))

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
        problem = unstorable(value)
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
            "provider_id": values["providerId"] or "",
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
            # Lower-case, as checksums are.
            "crc32": values["crc32"].lower() if values["crc32"] is not None else "",
            "image_width": values["imageWidth"],
            "image_height": values["imageHeight"],
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
