"""STAC API 1.0 (README, "STAC API"): the JSON shapes of collections (datasets) and items
(products), and the reading of the item search parameters into a product queryset.

The search reuses the legacy engine's reads: selectors.product_search for who sees what and
the files each caller may download, products.spatial for exact spatial matching."""

import datetime
import json
import math
import re

from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from products import cql2, facets, selectors, spatial
from products.lucene import PROPERTY_NAME
from products.models import DataFile
from products.serializers import MAX_PAGE_SIZE, file_json
from regards_catalog.exceptions import InvalidRequest

STAC_VERSION = "1.0.0"
FILE_EXTENSION = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
# A nearline file is marked with this field rather than the storage extension: its v1.0.0
# `storage:tier` is gone from v2.0.0, and pystac warns on every item that carries it.
TIER_FIELD = "regards:tier"
CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#sort",
    "https://api.stacspec.org/v1.0.0/item-search#fields",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#sort",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#fields",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#query",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    # The CQL2 `filter` (products/cql2.py, README "CQL2 filter") and its queryables.
    "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    # Collection search (README, "STAC API"), `q` as free text.
    "https://api.stacspec.org/v1.0.0-rc.1/collection-search",
    "https://api.stacspec.org/v1.0.0-rc.1/collection-search#free-text",
]
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
DEFAULT_LIMIT = 10
GEOJSON = "application/geo+json"
# SPDX ids a licence slug may spell in any case (`cc-by-4.0` is CC-BY-4.0); any other
# licence is `other`, with a link to its page.
SPDX_IDS = {
    spdx.lower(): spdx
    for spdx in (
        "CC-BY-4.0",
        "CC-BY-SA-4.0",
        "CC-BY-NC-4.0",
        "CC-BY-NC-SA-4.0",
        "CC-BY-ND-4.0",
        "CC-BY-NC-ND-4.0",
        "CC-BY-3.0",
        "CC-BY-SA-3.0",
        "CC0-1.0",
        "ODbL-1.0",
        "ODC-By-1.0",
        "PDDL-1.0",
        "etalab-2.0",
        "MIT",
        "Apache-2.0",
        "GPL-3.0-only",
        "BSD-3-Clause",
    )
}
ROLES = {
    DataFile.DataType.RAWDATA: "data",
    DataFile.DataType.QUICKLOOK_SD: "overview",
    DataFile.DataType.QUICKLOOK_MD: "overview",
    DataFile.DataType.QUICKLOOK_HD: "overview",
    DataFile.DataType.THUMBNAIL: "thumbnail",
    DataFile.DataType.DESCRIPTION: "metadata",
}
MD5_MULTIHASH_PREFIX = "d510"  # multihash: md5 (0xd5), 16 bytes (0x10)
# An item search counts its matches up to this many, and gives numberMatched only then:
# counting reads every match (10,000 take 50-90 ms among a million products), and OGC API
# Features lets a server omit a number that is costly to compute. The `next` link still
# leads through every page.
MATCHES_COUNTED = 1_000
MAX_SUMMARIZED = 20  # properties in a collection's summaries
SUMMARY_SAMPLE = 100  # products whose property names the summaries list
SUMMARY_VALUES = 10  # distinct text values of a property in the summaries
# The query extension's operators, as CQL2 (products/cql2.py) compares: `query` is read
# into a CQL2 JSON filter, so both compare properties the same way (as Lucene does).
QUERY_OPERATORS = {
    "eq": "=",
    "neq": "<>",
    "lt": "<",
    "lte": "<=",
    "gt": ">",
    "gte": ">=",
    "startsWith": "like",
    "endsWith": "like",
    "contains": "like",
    "in": "in",
}
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
NUMERIC_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
SORTABLE = {
    "id": "urn",
    "collection": "dataset__urn",
    "datetime": "start_date",
    "properties.datetime": "start_date",
    "start_datetime": "start_date",
    "properties.start_datetime": "start_date",
    "end_datetime": "end_date",
    "properties.end_datetime": "end_date",
}
COLLECTION_SEARCH_PARAMETERS = frozenset(
    {"q", "bbox", "datetime", "limit", "offset", "item_bbox", "item_datetime", "item_ids"}
)
ALWAYS_INCLUDED = ("type", "stac_version", "id", "links")
# The fields extension's default set: what `fields` with neither include nor exclude gives.
DEFAULT_FIELDS = (
    "collection",
    "geometry",
    "bbox",
    "assets",
    "properties.datetime",
    "properties.start_datetime",
    "properties.end_datetime",
)
SEARCH_PARAMETERS = frozenset(
    {
        "bbox",
        "intersects",
        "datetime",
        "ids",
        "collections",
        "limit",
        "offset",
        "sortby",
        "fields",
        "query",
        "filter",
        "filter-lang",
    }
)


def link(rel, href, media_type="application/json", **extra):
    return {"rel": rel, "href": href, "type": media_type, **extra}


def stac_url(root, name, *args):
    return root + reverse(name, args=args)


# Collections


def license_fields(license, root):
    """(`license` value, extra links) of a dataset's licence."""
    if license is None:
        return "other", []
    spdx = SPDX_IDS.get(license.slug.lower())
    if spdx is not None:
        return spdx, []
    page = root + reverse("license-page", args=[license.slug])
    return "other", [link("license", page, "text/html", title=license.title)]


def collection_json(dataset, root, summaries=None):
    """`dataset`'s stored extent is current (services.datasets_summarize_stale)."""
    box = [dataset.extent_west, dataset.extent_south, dataset.extent_east, dataset.extent_north]
    if None in box:
        box = [-180.0, -90.0, 180.0, 90.0]  # no product has a geometry: the whole Earth
    license, license_links = license_fields(dataset.license, root)
    self_url = stac_url(root, "stac-collection", dataset.urn)
    answer = {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [],
        "id": dataset.urn,
        "title": dataset.label,
        "description": dataset.label,
        "license": license,
        "extent": {
            "spatial": {"bbox": [box]},
            "temporal": {"interval": [[_iso(dataset.extent_start), _iso(dataset.extent_end)]]},
        },
        "links": [
            link("self", self_url),
            link("root", stac_url(root, "stac-landing")),
            link("parent", stac_url(root, "stac-landing")),
            link("items", stac_url(root, "stac-items", dataset.urn), GEOJSON),
            *license_links,
        ],
    }
    if summaries is not None:
        answer["summaries"] = summaries
    return answer


def collection_summaries(products):
    """STAC summaries of `products`' properties: {"minimum", "maximum"} for numbers and
    dates, else up to SUMMARY_VALUES distinct text values (of the first TRACKED_TOTAL
    products). The names are those of the first SUMMARY_SAMPLE products, at most
    MAX_SUMMARIZED: a bounded number of queries."""
    names = []
    for properties in products.order_by("id").values_list("properties", flat=True)[:SUMMARY_SAMPLE]:
        if isinstance(properties, dict):
            names += [name for name in properties if PROPERTY_NAME.fullmatch(name)]
    names = sorted(set(names))[:MAX_SUMMARIZED]
    fields = [facets.field(f"properties.{name}") for name in names]
    summaries = {}
    for f, bound in zip(fields, facets.bounds(products, fields), strict=True):
        name = f.name.removeprefix("properties.")
        if bound["lowerBound"] is not None:
            summaries[name] = {"minimum": bound["lowerBound"], "maximum": bound["upperBound"]}
            continue
        sample = facets.Sample(products, [f], limit=selectors.TRACKED_TOTAL)
        words, _ = facets.word_counts(sample, f, max_words=SUMMARY_VALUES, by_count=False)
        if words:
            summaries[name] = [word for word, _ in words]
    return summaries


# Items


def asset_json(data_file, product_urn, root):
    """A STAC asset from the file's legacy JSON: the same download URI and tier."""
    legacy = file_json(data_file, product_urn, root)
    return {
        "href": legacy["uri"],
        "type": data_file.mime_type,
        "title": data_file.filename,
        "roles": [ROLES.get(data_file.data_type, "data")],
        "file:size": data_file.filesize,
        **(
            {"file:checksum": MD5_MULTIHASH_PREFIX + data_file.checksum.lower()}
            if data_file.digest_algorithm.upper() == "MD5"
            else {}
        ),
        # A nearline file must be restored before download (README, "Nearline files").
        TIER_FIELD: "online" if legacy["online"] else "nearline",
    }


def asset_keys(files):
    """A unique asset key per file: its filename, numbered when two share one."""
    keys, seen = [], {}
    for data_file in files:
        count = seen[data_file.filename] = seen.get(data_file.filename, 0) + 1
        keys.append(data_file.filename if count == 1 else f"{data_file.filename}#{count}")
    return keys


def item_json(product, files, root):
    """A STAC Item of `product` (from selectors.product_search); `files`: those the caller
    may download."""
    start, end = product.start_date, product.end_date
    # STAC requires a datetime (null only with start_datetime and end_datetime): a product
    # without dates shows when the catalog received it.
    times = {"datetime": _iso(start or product.created)}
    if start is not None and end is not None and end != start:
        times = {"datetime": None, "start_datetime": _iso(start), "end_datetime": _iso(end)}
    collection = product.dataset.urn
    files = list(files)
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [FILE_EXTENSION],
        "id": product.urn,
        "collection": collection,
        "geometry": product.geometry,
        **({"bbox": product.bbox} if product.bbox is not None else {}),
        "properties": {**product.properties, "title": product.label, **times},
        "links": [
            link("self", stac_url(root, "stac-item", collection, product.urn), GEOJSON),
            link("parent", stac_url(root, "stac-collection", collection)),
            link("collection", stac_url(root, "stac-collection", collection)),
            link("root", stac_url(root, "stac-landing")),
        ],
        "assets": {
            key: asset_json(data_file, product.urn, root)
            for key, data_file in zip(asset_keys(files), files, strict=True)
        },
    }


def select_fields(item, fields):
    """The fields extension (`fields` from read_search): the item's base fields (every one,
    the DEFAULT_FIELDS, or only those every item needs when paths are included), less the
    `exclude`d paths, plus the `include`d ones: a path both included and excluded, or
    included under an excluded one, is kept."""
    if fields is None:
        return item
    base, include, exclude = fields["base"], fields["include"], fields["exclude"]
    if base is not None:
        kept = {}
        for path in (*ALWAYS_INCLUDED, *base):
            _copy_path(item, kept, path.split("."))
    else:
        kept = item
    for path in exclude:
        if path not in ALWAYS_INCLUDED:
            _drop_path(kept, path.split("."))
    for path in include:
        _copy_path(item, kept, path.split("."))
    return kept


def _copy_path(source, target, parts):
    head, rest = parts[0], parts[1:]
    if not isinstance(source, dict) or head not in source:
        return
    if not rest:
        target[head] = source[head]
        return
    branch = target.setdefault(head, {})
    if isinstance(branch, dict):
        _copy_path(source[head], branch, rest)


def _drop_path(item, parts):
    for part in parts[:-1]:
        item = item.get(part) if isinstance(item, dict) else None
    if isinstance(item, dict):
        item.pop(parts[-1], None)


# Item search


def refuse_unknown(names, known):
    """A parameter this API does not implement is a 400 naming it, never ignored: a
    script's typo, or a `filter` not understood, would widen its results."""
    unknown = sorted(set(names) - known)
    if unknown:
        raise InvalidRequest(
            f"{unknown[0]}: unknown parameter; the search takes {', '.join(sorted(known))}.",
            extra={"parameter": unknown[0]},
        )


def read_get_parameters(query):
    """The item search parameters of a GET query string, in the shape of a POST body."""
    refuse_unknown(query, {*SEARCH_PARAMETERS, "token"})
    body = {}
    for name in ("bbox", "ids", "collections"):
        if (value := _single(query, name)) is not None:
            body[name] = value.split(",")
    for name in ("datetime", "limit", "offset"):
        if (value := _single(query, name)) is not None:
            body[name] = value
    for name in ("intersects", "query"):
        if (value := _single(query, name)) is not None:
            try:
                body[name] = json.loads(value)
            except ValueError:
                raise InvalidRequest(f"{name}: not JSON.", extra={"parameter": name}) from None
    if (value := _single(query, "filter")) is not None:
        body["filter"] = value  # cql2-text unless filter-lang says cql2-json
        body["filter-lang"] = _single(query, "filter-lang") or "cql2-text"
    if (value := _single(query, "sortby")) is not None:
        # A `+` in a query string reads as a space: both mean ascending.
        terms = [term.strip() for term in value.split(",") if term.strip()]
        body["sortby"] = [
            {"field": term.lstrip("+-"), "direction": "desc" if term.startswith("-") else "asc"}
            for term in terms
        ]
    if (value := _single(query, "fields")) is not None:
        terms = [term.strip() for term in value.split(",") if term.strip()]
        include = [term.lstrip("+") for term in terms if not term.startswith("-")]
        exclude = [term[1:] for term in terms if term.startswith("-")]
        # Only excluded paths: the rest of the item, as a POST body without `include`.
        body["fields"] = (
            {"exclude": exclude}
            if exclude and not include
            else {
                "include": include,
                "exclude": exclude,
            }
        )
    return body


def read_search(body, *, collection=None):
    """A search body (POST, or read_get_parameters) → a dict of checked values:
    shapes, ids, collections, interval, limit, offset, ordering, query, filter, fields."""
    if not isinstance(body, dict):
        raise InvalidRequest("The search body is a JSON object.")
    refuse_unknown(body, SEARCH_PARAMETERS)
    search = {
        "shapes": [],
        "ids": _identifiers(body, "ids"),
        "collections": _identifiers(body, "collections"),
        "interval": None,
        "limit": _integer(body, "limit", DEFAULT_LIMIT, 1),
        "offset": _integer(body, "offset", 0, 0),
        "ordering": _ordering(body.get("sortby")),
        "query": _query(body.get("query")),
        "filter": _filter(body),
    }
    if collection is not None:
        search["collections"] = [collection]
    search["limit"] = min(search["limit"], MAX_PAGE_SIZE)
    if body.get("bbox") is not None and body.get("intersects") is not None:
        raise InvalidRequest("bbox and intersects cannot be combined.")
    if body.get("bbox") is not None:
        search["shapes"].append(_bbox(body["bbox"]))
    if body.get("intersects") is not None:
        if not isinstance(body["intersects"], dict):
            raise InvalidRequest(
                "intersects: a GeoJSON geometry.", extra={"parameter": "intersects"}
            )
        try:
            search["shapes"].append(spatial.Area(spatial.parse_geojson(body["intersects"])))
        except spatial.SpatialError as error:
            raise InvalidRequest(
                f"intersects: {error}.", extra={"parameter": "intersects"}
            ) from None
    if body.get("datetime") is not None:
        search["interval"] = _interval(body["datetime"])
    search["fields"] = _fields(body)
    return search


def search_products(user, search):
    """The products `search` (from read_search) finds for `user`, in a stable order."""
    products = selectors.product_search(
        user=user, ordering=search["ordering"], shapes=search["shapes"]
    )
    if search["ids"] is not None:
        products = products.filter(urn__in=search["ids"])
    if search["collections"] is not None:
        products = products.filter(dataset__urn__in=search["collections"])
    if search["interval"] is not None:
        start, end = search["interval"]
        dated = Q(start_date__isnull=False)
        # A product without dates shows its ingestion time as its datetime (item_json).
        undated = Q(start_date__isnull=True)
        if end is not None:
            dated &= Q(start_date__lte=end)
            undated &= Q(created__lte=end)
        if start is not None:
            dated &= Q(end_date__gte=start) | Q(end_date__isnull=True, start_date__gte=start)
            undated &= Q(created__gte=start)
        products = products.filter(dated | undated)
    for name, expression, lang in (
        ("query", search["query"], "cql2-json"),
        ("filter", *(search["filter"] or (None, None))),
    ):
        if expression is not None:
            try:
                products = cql2.apply_filter(products, expression, lang)
            except cql2.FilterError as error:
                raise InvalidRequest(f"{name}: {error}", extra={"parameter": name}) from None
    return products


# Collection search


def read_collection_get_parameters(query):
    """The collection search parameters of a GET query string, in the shape of a POST body:
    `q`, `item_ids` and the boxes are comma-separated lists."""
    refuse_unknown(query, {*COLLECTION_SEARCH_PARAMETERS, "token"})
    body = {}
    for name in sorted(COLLECTION_SEARCH_PARAMETERS):
        if (value := _single(query, name)) is not None:
            split = name in ("q", "item_ids", "bbox", "item_bbox")
            body[name] = value.split(",") if split else value
    return body


def read_collection_search(body):
    """A collection search body (POST, or read_collection_get_parameters) → a dict of checked
    values: terms, boxes, interval, items (an item search for search_products, or None),
    limit, offset."""
    if not isinstance(body, dict):
        raise InvalidRequest("The search body is a JSON object.")
    refuse_unknown(body, COLLECTION_SEARCH_PARAMETERS)
    terms = body.get("q")
    if isinstance(terms, str):
        terms = terms.split(",")
    if terms is not None and not (
        isinstance(terms, list) and all(isinstance(term, str) for term in terms)
    ):
        raise InvalidRequest("q: a string or a list of strings.", extra={"parameter": "q"})
    search = {
        "terms": [term.strip() for term in terms or [] if term.strip()],
        "boxes": _bbox(body["bbox"]).boxes() if body.get("bbox") is not None else None,
        "interval": _interval(body["datetime"]) if body.get("datetime") is not None else None,
        "items": None,
        "limit": min(_integer(body, "limit", DEFAULT_LIMIT, 1), MAX_PAGE_SIZE),
        "offset": _integer(body, "offset", 0, 0),
    }
    item_bbox, item_datetime = body.get("item_bbox"), body.get("item_datetime")
    if item_bbox is not None or item_datetime is not None or body.get("item_ids") is not None:
        # The shape read_search gives search_products, with only these three criteria.
        search["items"] = {
            "shapes": [_bbox(item_bbox, "item_bbox")] if item_bbox is not None else [],
            "ids": _strings(body, "item_ids"),
            "collections": None,
            "interval": (
                _interval(item_datetime, "item_datetime") if item_datetime is not None else None
            ),
            "ordering": [],
            "query": None,
            "filter": None,
        }
    return search


def search_collections(user, search):
    """The collections `search` (from read_collection_search) finds for `user`, by URN;
    their stored extents must be current (services.datasets_summarize_stale). Extents are
    matched as collection_json shows them: a collection without geometries covers the whole
    Earth, one without dates an open interval."""
    datasets = visible_collections(user).order_by("urn", "id")
    if search["terms"]:
        matches = Q()
        for term in search["terms"]:
            matches |= Q(urn__icontains=term) | Q(label__icontains=term)
        datasets = datasets.filter(matches)
    if search["items"] is not None:
        # One subquery: the collections holding at least one item the caller sees that matches.
        products = search_products(user, search["items"]).order_by()
        datasets = datasets.filter(Exists(products.filter(dataset=OuterRef("pk"))))
    if search["boxes"] is not None:
        meets = Q(extent_west__isnull=True)
        for west, south, east, north in search["boxes"]:
            meets |= Q(
                extent_west__lte=east,
                extent_east__gte=west,
                extent_south__lte=north,
                extent_north__gte=south,
            )
        datasets = datasets.filter(meets)
    if search["interval"] is not None:
        start, end = search["interval"]
        if end is not None:
            datasets = datasets.filter(Q(extent_start__isnull=True) | Q(extent_start__lte=end))
        if start is not None:
            datasets = datasets.filter(Q(extent_end__isnull=True) | Q(extent_end__gte=start))
    return datasets


def _fields(body):
    """The fields extension's {base, include, exclude} (see select_fields), or None for the
    whole item. As the extension says: include alone adds to the fields every item needs;
    exclude alone takes from the whole item, or from the default set when `include` is
    given empty; neither gives the default set."""
    if "fields" not in body:
        return None
    fields = body["fields"]
    if not isinstance(fields, dict):
        raise InvalidRequest(
            "fields: an object with include and exclude lists.", extra={"parameter": "fields"}
        )
    include = _strings(fields, "include", "fields.include") or []
    exclude = _strings(fields, "exclude", "fields.exclude") or []
    if include:
        base = ()
    elif exclude and "include" not in fields:
        base = None
    else:
        base = DEFAULT_FIELDS
    return {"base": base, "include": include, "exclude": exclude}


def _filter(body):
    """(expression, language) of the body's CQL2 `filter`, or None. A POST body's filter is
    cql2-json by default (a JSON object), cql2-text when it is a string."""
    expression = body.get("filter")
    if expression is None:
        return None
    default = "cql2-text" if isinstance(expression, str) else "cql2-json"
    lang = body.get("filter-lang") or default
    if lang not in cql2.LANGUAGES:
        raise InvalidRequest(
            f"filter-lang: one of {', '.join(cql2.LANGUAGES)}.", extra={"parameter": "filter-lang"}
        )
    return expression, lang


def queryables_json(root, collection=None):
    """What a CQL2 filter may name: the fields below, and any product property (by its
    name, or `properties.<name>`)."""
    name = "stac-queryables" if collection is None else "stac-collection-queryables"
    args = () if collection is None else (collection,)
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": stac_url(root, name, *args),
        "type": "object",
        "title": "Queryables",
        "properties": {
            "id": {"description": "the product URN", "type": "string"},
            "collection": {"description": "the dataset URN", "type": "string"},
            "datetime": {"description": "the start date", "type": "string", "format": "date-time"},
            "start_datetime": {"type": "string", "format": "date-time"},
            "end_datetime": {"type": "string", "format": "date-time"},
            "geometry": {"$ref": "https://geojson.org/schema/Geometry.json"},
        },
        "additionalProperties": True,
    }


def visible_collections(user):
    return selectors.dataset_search(user=user).order_by("urn")


def _single(query, name):
    values = query.getlist(name)
    if len(values) > 1:
        raise InvalidRequest(f"{name}: given more than once.", extra={"parameter": name})
    return values[0] if values else None


def _identifiers(body, name):
    """A list of ids; also the GET form, one comma-separated string, which some clients
    send in a POST body too (stac-api-validator sends `"collections": "<id>"`)."""
    if isinstance(body.get(name), str):
        return body[name].split(",")
    return _strings(body, name)


def _strings(body, name, label=None):
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"{label or name}: a list of strings.", extra={"parameter": name})
    return value


def _integer(body, name, default, minimum):
    value = body.get(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or number < minimum or number > 10**9:
        raise InvalidRequest(
            f"{name}: an integer from {minimum} to 10^9.", extra={"parameter": name}
        )
    return number


def _bbox(value, name="bbox"):
    """A list of 4 or 6 numbers (GET: the comma-separated text, split): a POST body's CSV
    string is a 400, as the STAC API says."""
    if isinstance(value, list) and len(value) == 6:  # 3D: drop the heights
        value = [value[0], value[1], value[3], value[4]]
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    else:
        raise InvalidRequest(f"{name}: minLon,minLat,maxLon,maxLat.", extra={"parameter": name})
    try:
        return spatial.Area(spatial.parse_bbox(value))
    except spatial.SpatialError as error:
        raise InvalidRequest(f"{name}: {error}.", extra={"parameter": name}) from None


def _interval(value, name="datetime"):
    """RFC 3339 instant, or `start/end` with `..` (or nothing) for an open end."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{name}: an RFC 3339 instant or interval.")
    parts = value.split("/")
    if len(parts) == 1:
        instant = _moment(parts[0], name)
        return instant, instant
    if len(parts) != 2:
        raise InvalidRequest(f"{name}: an instant, or two separated by '/'.")
    start, end = (None if part in ("", "..") else _moment(part, name) for part in parts)
    if start is None and end is None:
        raise InvalidRequest(f"{name}: an interval needs at least one end.")
    if start is not None and end is not None and start > end:
        raise InvalidRequest(f"{name}: the interval ends before it starts.")
    return start, end


def _moment(text, name):
    text = text.strip()
    try:
        # RFC 3339 only (`T` or `t`, a zone, `.` before fractions), which Django's parser
        # would widen; it then checks the ranges (month 13, hour 25).
        moment = parse_datetime(text.upper()) if RFC3339.fullmatch(text) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidRequest(
            f"{name}: {text!r} is not an RFC 3339 date-time (with a time zone).",
            extra={"parameter": name},
        )
    return moment


def _ordering(sortby):
    if sortby is None:
        return []
    if not isinstance(sortby, list):
        raise InvalidRequest("sortby: a list of {field, direction}.", extra={"parameter": "sortby"})
    ordering = []
    for term in sortby:
        if not isinstance(term, dict) or not isinstance(term.get("field"), str):
            raise InvalidRequest("sortby: each term is {field, direction}.")
        name, direction = term["field"], term.get("direction", "asc")
        if direction not in ("asc", "desc"):
            raise InvalidRequest("sortby: direction is asc or desc.", extra={"parameter": "sortby"})
        column = SORTABLE.get(name)
        key = name.removeprefix("properties.")
        if column is None and name.startswith("properties.") and PROPERTY_NAME.fullmatch(key):
            column = f"properties__{key}"
        if column is None:
            raise InvalidRequest(
                f"sortby: {name!r} is not sortable (id, collection, datetime, properties.<name>).",
                extra={"parameter": "sortby"},
            )
        ordering.append(("-" if direction == "desc" else "") + column)
    return ordering


def _query(query):
    """The query extension, {"<property>": {"<operator>": value}}, as the CQL2 JSON filter
    of the same comparisons (ANDed), or None."""
    if query is None:
        return None
    if not isinstance(query, dict):
        raise InvalidRequest("query: an object.", extra={"parameter": "query"})
    comparisons = []
    for name, operations in query.items():
        key = name.removeprefix("properties.")
        if not PROPERTY_NAME.fullmatch(key) or not isinstance(operations, dict):
            raise InvalidRequest(
                f"query: {name!r} is not a property name with its comparisons.",
                extra={"parameter": "query"},
            )
        for operator, value in operations.items():
            comparisons.append(_comparison(key, operator, value))
    if not comparisons:
        return None
    return comparisons[0] if len(comparisons) == 1 else {"op": "and", "args": comparisons}


def _comparison(key, operator, value):
    op = QUERY_OPERATORS.get(operator)
    if op is None:
        raise InvalidRequest(
            f"query: unknown operator {operator!r}; use {', '.join(QUERY_OPERATORS)}.",
            extra={"parameter": "query"},
        )
    if operator == "in":
        scalars = isinstance(value, list) and all(isinstance(v, str | int | float) for v in value)
        if not scalars or not value:
            raise InvalidRequest(
                "query: in takes a non-empty list of numbers or strings.",
                extra={"parameter": "query"},
            )
    elif not isinstance(value, str | int | float | bool):
        raise InvalidRequest(
            f"query: {operator} takes a number or a string.", extra={"parameter": "query"}
        )
    prop = {"property": key}
    if op != "like":
        comparison = {"op": op, "args": [prop, value]}
        number = _number(value) if op != "in" else None
        if number is None:
            return comparison
        # A number written as a string (as stac-api-validator and some forms send it)
        # compares with numeric properties as that number, and with text ones as text.
        return {"op": "or", "args": [comparison, {"op": op, "args": [prop, number]}]}
    if not isinstance(value, str):
        raise InvalidRequest(f"query: {operator} takes a string.", extra={"parameter": "query"})
    text = re.sub(r"([\\%_])", r"\\\1", value)  # the value's own %, _ and \ are literal
    pattern = {"startsWith": f"{text}%", "endsWith": f"%{text}", "contains": f"%{text}%"}
    casei = {"op": "casei", "args": [pattern[operator]]}  # the text operators ignore case
    return {"op": "like", "args": [{"op": "casei", "args": [prop]}, casei]}


def _number(value):
    """The finite number a string spells (`"30"`, `"-2.5"`), else None."""
    if not isinstance(value, str) or not NUMERIC_TEXT.fullmatch(value.strip()):
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _iso(moment):
    if moment is None:
        return None
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
