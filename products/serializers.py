"""JSON shapes of the REGARDS legacy search engine (SPEC §4 "Search")."""

from django.urls import reverse
from rest_framework import serializers

from regards_catalog.storage import get_location

MAX_PAGE_SIZE = 1000
MAX_PROPERTY_VALUES = 100
MAX_BOUNDS = 20
SORTABLE_FIELDS = {
    "id": "urn",
    "providerId": "provider_id",
    "label": "label",
    "dataset": "dataset__urn",
    "start_date": "start_date",
    "end_date": "end_date",
}


class SearchParamsSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    page = serializers.IntegerField(required=False, min_value=0, max_value=10**9, default=0)
    # Above MAX_PAGE_SIZE, a size is clamped by the view, as REGARDS does (metadata.requestedSize).
    size = serializers.IntegerField(required=False, min_value=1, default=20)
    sort = serializers.ListField(
        child=serializers.RegexField(
            r"^(id|providerId|label|dataset|start_date|end_date|properties\.[A-Za-z_][A-Za-z0-9_]*)"
            r"(,(ASC|DESC|asc|desc))?$",
            max_length=200,
            error_messages={"invalid": "Use sort=<field>,ASC|DESC with a sortable field."},
        ),
        required=False,
        default=list,
        max_length=10,
    )

    def validate_sort(self, values):
        """["label,DESC", …] → ORM ordering ["-label", …]."""
        ordering = []
        for value in values:
            field, _, direction = value.partition(",")
            name = SORTABLE_FIELDS.get(field) or field.replace(".", "__")
            ordering.append(("-" if direction.upper() == "DESC" else "") + name)
        return ordering


class PropertyValuesParamsSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    partialText = serializers.CharField(  # REGARDS's name
        required=False, allow_blank=True, max_length=200, default="", trim_whitespace=False
    )
    maxCount = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_PROPERTY_VALUES, default=10
    )


class PropertyBoundsParamsSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    properties = serializers.CharField(max_length=2000)

    def validate_properties(self, value):
        """ "a,b" → ["a", "b"]."""
        names = [name.strip() for name in value.split(",") if name.strip()]
        if not names:
            raise serializers.ValidationError("Name at least one property.")
        if len(names) > MAX_BOUNDS:
            raise serializers.ValidationError(f"At most {MAX_BOUNDS} properties.")
        return names


def file_json(data_file, product_urn, root):
    if data_file.reference:
        uri, online = data_file.uri, True
    else:
        path = reverse(
            "download-file", kwargs={"aip_id": product_urn, "checksum": data_file.checksum}
        )
        uri = root + path
        location = get_location(data_file.storage)
        online = location is not None and location.tier == "online"
    return {
        "dataType": data_file.data_type,
        "reference": data_file.reference,
        "uri": uri,
        "mimeType": data_file.mime_type,
        "online": online,
        "checksum": data_file.checksum,
        "digestAlgorithm": data_file.digest_algorithm,
        "filesize": data_file.filesize,
        "filename": data_file.filename,
        "types": data_file.types,
        # Only what the catalog gave (REGARDS omits them too when unknown).
        **({"crc32": data_file.crc32} if data_file.crc32 else {}),
        **({"imageWidth": data_file.image_width} if data_file.image_width is not None else {}),
        **({"imageHeight": data_file.image_height} if data_file.image_height is not None else {}),
    }


def product_tags(product):
    """The product's own tags, then its dataset's URN, as REGARDS tags a product
    (products.lucene searches `tags` the same way)."""
    tags = product.tags if isinstance(product.tags, list) else []
    dataset_urn = product.dataset.urn
    return tags if dataset_urn in tags else [*tags, dataset_urn]


def product_json(product, files, root, *, last):
    """A GeoJSON Feature (RFC 7946) with REGARDS's fields. `files`: the files the caller may
    download (public types plus permitted private ones); `last`: no higher version exists."""
    grouped = {}
    for data_file in files:
        grouped.setdefault(data_file.data_type, []).append(file_json(data_file, product.urn, root))
    bbox = product.bbox
    return {
        "type": "Feature",
        "id": product.urn,
        "virtualId": product.virtual_id,
        "version": product.version,
        "last": last,
        "providerId": product.provider_id,
        "entityType": "DATA",
        "label": product.label,
        "model": product.model,
        "tags": product_tags(product),
        "properties": product.properties,
        "geometry": product.geometry,
        # RFC 7946 §5: a bbox is an array when present; a feature without geometry has none.
        **({"bbox": bbox} if bbox is not None else {}),
        "files": grouped,
    }


def dataset_json(dataset):
    """`dataset` comes from selectors.dataset_search, annotated with the caller's access."""
    license = dataset.license
    return {
        "id": dataset.urn,
        "providerId": dataset.provider_id_or_label,
        "entityType": "DATASET",
        "label": dataset.label,
        "model": "DATASET",
        # REGARDS's DatasetFeature.licence is a string: the licence's link.
        "licence": None if license is None else license.url,
        "dataObjectsAccessGranted": dataset.caller_sees,
        "dataObjectsFilesAccessGranted": dataset.caller_downloads_private,
        "tags": [],
        "properties": {
            "license": None
            if license is None
            else {
                "id": license.slug,
                "title": license.title,
                "url": license.url,
                "version": license.version,
            },
        },
        "geometry": None,
    }
