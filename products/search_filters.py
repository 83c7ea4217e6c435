"""The legacy engine's search parameters besides `q` (g, lat/lon/r, box, exists, hasImage),
read into keyword arguments of selectors.product_search. The OpenSearch engine hands its
geo:box and geo:geometry to the same reader, under the legacy names."""

from products import spatial
from products.lucene import PROPERTY_NAME
from regards_catalog.exceptions import InvalidRequest


def legacy_filters(query):
    """`query` (a QueryDict or MultiValueDict) → {"shapes", "exists", "has_image"};
    InvalidRequest names a bad parameter."""
    shapes = []
    if (text := _single(query, "g")) is not None:
        shapes.append(_shape("g", lambda: spatial.Area(spatial.parse_wkt(text))))
    if (text := _single(query, "box")) is not None:
        shapes.append(_shape("box", lambda: spatial.Area(spatial.parse_bbox(text))))
    circle = {name: _single(query, name) for name in ("lat", "lon", "r")}
    if any(value is not None for value in circle.values()):
        for name, value in circle.items():
            if value is None:
                raise InvalidRequest(
                    f"{name}: a circle needs lat, lon and r (in metres).",
                    extra={"parameter": name},
                )
        lat, lon, radius = (_float(name, circle[name]) for name in ("lat", "lon", "r"))
        shapes.append(_shape("lat", lambda: spatial.Circle(lon, lat, radius)))
    exists = []
    for value in query.getlist("exists"):
        for name in value.split(","):
            name = name.strip().removeprefix("properties.")
            if not PROPERTY_NAME.fullmatch(name):
                raise InvalidRequest(
                    f"exists: {name!r} is not a property name (letters, digits and _).",
                    extra={"parameter": "exists"},
                )
            exists.append(name)
    has_image = _single(query, "hasImage")
    if has_image is not None:
        if has_image.lower() not in ("true", "false"):
            raise InvalidRequest("hasImage: true or false.", extra={"parameter": "hasImage"})
        has_image = has_image.lower() == "true"
    return {"shapes": shapes, "exists": exists, "has_image": has_image}


def _single(query, name):
    values = query.getlist(name)
    if len(values) > 1:
        raise InvalidRequest(f"{name}: given more than once.", extra={"parameter": name})
    return values[0] if values else None


def _float(name, text):
    try:
        return float(text)
    except ValueError:
        raise InvalidRequest(
            f"{name}: {text!r} is not a number.", extra={"parameter": name}
        ) from None


CIRCLE_PARAMETERS = {"lon": "lon", "lat": "lat", "radius": "r"}


def _shape(name, make):
    try:
        return make()
    except spatial.SpatialError as error:
        name = CIRCLE_PARAMETERS.get(error.part, name)
        raise InvalidRequest(f"{name}: {error}.", extra={"parameter": name}) from None
