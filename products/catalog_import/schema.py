"""What a catalog document may hold (SPEC §9): the fields of each kind of entry, and how
each value is checked."""

import dataclasses
import datetime
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from products.models import (
    LICENSE_ID,
    AccessRight,
    DataFile,
    validate_checksum,
    validate_crc32,
    validate_dataset_urn,
    validate_product_urn,
)
from products.spatial import SpatialError, parse_geojson
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
MAX_IMAGE_SIZE = 2**31 - 1


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


def unstorable(value):
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
    # Search tests products against it, and results must be valid GeoJSON (RFC 7946).
    try:
        parse_geojson(value)
    except SpatialError as error:
        raise Invalid(str(error)) from None
    return value


def _image_size(value):
    if not 1 <= value <= MAX_IMAGE_SIZE:
        raise Invalid(f"{value} is not a number of pixels (1 to {MAX_IMAGE_SIZE})")
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
    "providerId": Field("string", max_length=500, check=_non_empty),
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
    "crc32": Field("string", max_length=8, check=_django_validator(validate_crc32)),
    "imageWidth": Field("integer", check=_image_size),
    "imageHeight": Field("integer", check=_image_size),
}
