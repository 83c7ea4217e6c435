"""The OpenSearch engine (OpenSearch 1.1 with its Geo, Time, EO and Parameter extensions):
its parameters, and how a request's parameters select products.

The search itself is the legacy engine's (selectors.product_search, same access rules);
this module only translates OpenSearch's parameters onto it.
"""

import dataclasses
import datetime
import re

from django.db.models import Q
from django.db.models.fields.json import KeyTextTransform
from django.utils import dateparse, timezone
from django.utils.datastructures import MultiValueDict

from products import search_filters, selectors
from products.exceptions import InvalidQuery
from products.lucene import NUMBER, lucene_to_q
from products.serializers import MAX_PAGE_SIZE
from regards_catalog.exceptions import InvalidRequest

NAMESPACES = {
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
    "geo": "http://a9.com/-/opensearch/extensions/geo/1.0/",
    "time": "http://a9.com/-/opensearch/extensions/time/1.0/",
    "eo": "http://a9.com/-/opensearch/extensions/eo/1.0/",
    "parameters": "http://a9.com/-/spec/opensearch/extensions/parameters/1.0/",
}
DEFAULT_COUNT = 20
MAX_START = 10**9
MAX_OPTIONS = 50  # values of a property listed as a parameter's options in the description
FORMATS = {"atom": "application/atom+xml", "json": "application/geo+json"}


@dataclasses.dataclass(frozen=True)
class EoProperty:
    """An EO extension parameter and the product property it searches."""

    property: str
    numeric: bool = False  # a number or a range: [0,10], ]0,10[, [5 (from 5), 10] (to 10), {1,2}
    listed: bool = False  # the description lists the catalog's values as options


# The EO parameters, by their name in a request: the one table that maps them.
EO_PROPERTIES = {
    "platform": EoProperty("platform", listed=True),
    "instrument": EoProperty("instrument"),
    "productType": EoProperty("product_type"),
    "processingLevel": EoProperty("processing_level", listed=True),
    "cloudCover": EoProperty("cloud_cover", numeric=True),
    "orbitNumber": EoProperty("orbit", numeric=True),
}


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A request parameter, and the OpenSearch template parameter it fills."""

    name: str
    template: str  # e.g. "searchTerms", "time:start", "eo:platform"
    title: str
    minimum: int | None = None  # minInclusive, for integers
    maximum: int | None = None


PARAMETERS = [
    Parameter("q", "searchTerms", "Lucene query, as the legacy engine's q"),
    Parameter("startIndex", "startIndex", "Index of the first result (from 1)", 1, MAX_START),
    Parameter("startPage", "startPage", "Page number (from 1)", 1, MAX_START),
    Parameter("count", "count", f"Results per page (at most {MAX_PAGE_SIZE})", 1, MAX_PAGE_SIZE),
    Parameter("start", "time:start", "Products ending at or after this date (ISO 8601)"),
    Parameter("end", "time:end", "Products starting at or before this date (ISO 8601)"),
    Parameter("box", "geo:box", "west,south,east,north in degrees (EPSG:4326)"),
    Parameter("geometry", "geo:geometry", "A WKT geometry that products intersect"),
    *(
        Parameter(
            name,
            f"eo:{name}",
            f"properties.{eo.property}" + (" (number or range)" if eo.numeric else ""),
        )
        for name, eo in EO_PROPERTIES.items()
    ),
]
# Also taken: `searchTerms` for q, `format`, and the token every endpoint takes.
KNOWN_PARAMETERS = {parameter.name for parameter in PARAMETERS} | {"searchTerms", "format", "token"}
# The OpenSearch geo parameters, and the legacy engine's parameters they become.
GEO_TO_LEGACY = {"box": "box", "geometry": "g"}

# The EO extension's ranges: `[a,b]`, `]a,b[` (and the mixed ones), `[a`, `]a`, `b]`, `b[`.
INTERVAL = re.compile(r"(?P<low>[\[\]])(?P<a>[^,\[\]]+),(?P<b>[^,\[\]]+)(?P<high>[\[\]])")
FROM = re.compile(r"(?P<low>[\[\]])(?P<a>[^,\[\]]+)")
TO = re.compile(r"(?P<b>[^,\[\]]+)(?P<high>[\[\]])")
SET = re.compile(r"\{(?P<values>[^{}]+)\}")


@dataclasses.dataclass
class SearchParameters:
    """An OpenSearch request's parameters, checked."""

    q: str
    offset: int  # of the first result, from 0
    count: int
    start: datetime.datetime | None
    end: datetime.datetime | None
    eo: dict  # EO parameter name → its value
    geo: dict  # legacy engine parameter → value


def parse_request(query):
    """The checked parameters of a search's query string (a QueryDict); InvalidRequest
    naming the first bad one. A blank value counts as absent, as a client filling a template
    sends its optional parameters empty."""
    unknown = sorted(name for name in query if name not in KNOWN_PARAMETERS)
    if unknown:
        known = ", ".join(sorted(KNOWN_PARAMETERS - {"token"}))
        raise InvalidRequest(f"Unknown parameter {unknown[0]}; the parameters are {known}.")
    values = {name: query.get(name, "").strip() for name in query}
    if values.get("q") and values.get("searchTerms"):
        raise InvalidRequest("Give q or searchTerms, not both.")
    count = min(_integer(values, "count", DEFAULT_COUNT), MAX_PAGE_SIZE)  # as REGARDS clamps
    offset = _integer(values, "startIndex", 1) - 1 + (_integer(values, "startPage", 1) - 1) * count
    start = _date(values, "start", datetime.time.min)
    end = _date(values, "end", datetime.time.max)  # a whole day ends with its last moment
    if start and end and start > end:
        raise InvalidRequest("time:start is after time:end.")
    return SearchParameters(
        q=values.get("q") or values.get("searchTerms") or "",
        offset=offset,
        count=count,
        start=start,
        end=end,
        eo={name: values[name] for name in EO_PROPERTIES if values.get(name)},
        geo=legacy_geo_parameters(values),
    )


def legacy_geo_parameters(values):
    """geo:box and geo:geometry as the legacy engine's `box` and `g`: the same values
    (west,south,east,north in degrees; WKT), under the legacy names."""
    return {legacy: values[name] for name, legacy in GEO_TO_LEGACY.items() if values.get(name)}


def _integer(values, name, default):
    text = values.get(name)
    if not text:
        return default
    parameter = next(p for p in PARAMETERS if p.name == name)
    if not re.fullmatch(r"\d{1,12}", text) or int(text) < parameter.minimum:
        raise InvalidRequest(f"{name}: a whole number of at least {parameter.minimum} is needed.")
    if name != "count" and int(text) > MAX_START:
        raise InvalidRequest(f"{name}: at most {MAX_START}.")
    return int(text)


def _date(values, name, time_of_a_day):
    """The datetime in UTC, or None; a day alone is taken at `time_of_a_day`, UTC."""
    text = values.get(name)
    if not text:
        return None
    message = f"time:{name}: {text[:100]!r} is not an ISO 8601 date or date and time."
    try:
        day = dateparse.parse_date(text)
        moment = None if day else dateparse.parse_datetime(text)
    except ValueError:  # well formed, but no such date (2022-02-30)
        raise InvalidRequest(message) from None
    if day:
        moment = datetime.datetime.combine(day, time_of_a_day)
    if moment is None:
        raise InvalidRequest(message)
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=datetime.UTC)
    try:
        return moment.astimezone(datetime.UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first UTC datetime
        raise InvalidRequest(f"time:{name}: {text[:100]!r} is out of range.") from None


def search(request, *, user):
    """The products matching `request` (SearchParameters), as the legacy search finds them for
    `user` (same access rules, same downloadable files prefetched)."""
    geo = MultiValueDict({name: [value] for name, value in request.geo.items()})
    products = selectors.product_search(
        user=user, q=request.q, **search_filters.legacy_filters(geo)
    )
    if request.start:
        products = products.filter(
            Q(end_date__gte=request.start) | Q(end_date__isnull=True, start_date__gte=request.start)
        )
    if request.end:
        products = products.filter(start_date__lte=request.end)
    if request.eo:
        products = products.filter(eo_condition(request.eo))
    return products


def eo_condition(eo_values):
    """The Q for the EO parameters given, through the legacy engine's Lucene translation
    (so that properties compare the same way in both engines)."""
    condition = Q()
    for name, value in eo_values.items():
        eo = EO_PROPERTIES[name]
        field = f"properties.{eo.property}"
        lucene = (
            f"{field}:{_lucene_range(name, value)}" if eo.numeric else f'{field}:"{_quoted(value)}"'
        )
        try:
            condition &= lucene_to_q(lucene, btree_properties=selectors.property_index_leaders())
        except InvalidQuery as error:
            raise InvalidRequest(f"{name}: {error.detail}") from None
    return condition


def _quoted(text):
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _lucene_range(name, value):
    """The Lucene form of an EO number or range: 10, [0,10], ]0,10[, [0, ]0, 10], 10[, {1,2}."""
    if match := SET.fullmatch(value):
        numbers = [_number(name, v) for v in match["values"].split(",")]
        return "(" + " OR ".join(numbers) + ")"
    for pattern in (INTERVAL, FROM, TO):
        if match := pattern.fullmatch(value):
            parts = match.groupdict()
            low = _number(name, parts["a"]) if "a" in parts else "*"
            high = _number(name, parts["b"]) if "b" in parts else "*"
            opening = "[" if parts.get("low", "[") == "[" else "{"
            closing = "]" if parts.get("high", "]") == "]" else "}"
            return f"{opening}{low} TO {high}{closing}"
    return _number(name, value)


def _number(name, text):
    text = text.strip()
    if not NUMBER.fullmatch(text):
        raise InvalidRequest(
            f"{name}: {text[:100]!r} is not a number or a range such as [0,10] or ]5,10]."
        )
    return text


def property_options(user, eo):
    """Up to MAX_OPTIONS values the property of `eo` takes among the products `user` sees."""
    values = (
        selectors.product_search(user=user)
        .order_by()
        .prefetch_related(None)
        .annotate(option=KeyTextTransform(eo.property, "properties"))
        .filter(option__isnull=False)
        .values_list("option", flat=True)
        .distinct()
    )
    return sorted(values[:MAX_OPTIONS])


def chosen_format(request):
    """atom or json: from `format`, else from Accept (Atom unless GeoJSON or JSON is asked
    for first); InvalidRequest for an unknown `format`."""
    name = request.query_params.get("format", "").strip()
    if name:
        if name not in FORMATS:
            raise InvalidRequest(f"format: {name[:100]!r} is not one of {', '.join(FORMATS)}.")
        return name
    for media_range in request.META.get("HTTP_ACCEPT", "").split(","):
        media_type = media_range.split(";")[0].strip().lower()
        if media_type == FORMATS["atom"]:
            return "atom"
        if media_type in (FORMATS["json"], "application/json"):
            return "json"
    return "atom"
