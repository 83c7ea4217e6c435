"""Geometry in search: parse a query shape (WKT, GeoJSON, a box, a circle) and keep the
products whose geometry intersects it. The legacy engine uses it; the STAC API will too.

Each product keeps its geometry as shapely read it (`footprint`, 2D WKB) and its bounding
box in four indexed columns (bbox_west/south/east/north), written by Product.set_footprint.
On PostgreSQL with PostGIS (migration 0009 adds it where the extension can be installed),
an area search is one `ST_Intersects` served by a GiST index on the footprint: it scales to
millions of products. Elsewhere (SQLite, the `make run` default, or PostgreSQL without
PostGIS) nothing beyond Python is needed: SQL first keeps the products whose box overlaps
the query's box, shapely then tests those candidates exactly, and the queryset is narrowed
to the ids found. Either way paging, ordering and totals stay the database's, and both
paths answer the same: PostGIS and shapely are the same GEOS predicates over the same WKB.

Coordinates are longitude and latitude read as plane coordinates, as GeoJSON and shapely
read them: a product matches a WKT, GeoJSON or box shape exactly when shapely's
`intersects` says so. A circle holds the points within `radius` metres of its centre along
the WGS84 ellipsoid; a product's edges are followed to within EDGE_STEP degrees.

The API: parse_wkt, parse_geojson and parse_bbox make a shapely geometry (SpatialError when
malformed); Area(geometry) and Circle(lon, lat, radius) are search shapes;
filter_intersecting(queryset, shape) narrows a Product queryset to those intersecting one.
"""

import functools
import math

import numpy
import pyproj
import shapely
from django.db import connections
from django.db.models import BooleanField, Expression, Q
from shapely import geometry as shapes

EDGE_STEP = 0.001  # degrees (about 110 m) between the points a circle test follows an edge by
WGS84 = pyproj.Geod(ellps="WGS84")
# No degree of latitude is shorter than 110,574 m, nor a degree of longitude at latitude φ
# shorter than 111,320·cos φ m (less than 1 % below): a circle's box is widened by that much.
METRES_PER_DEGREE = 110_000
MAX_WKT_LENGTH = 100_000
MAX_BOXES = 100
MAX_RADIUS = 20_100_000  # half the Earth's circumference: every point is nearer
POSTGIS_INDEX = "products_product_footprint_gist"  # made by migration 0009


class SpatialError(ValueError):
    """A shape that cannot be parsed; the message says why, and `part` which value is
    wrong when the shape has several (a circle's "lon", "lat" or "radius")."""

    def __init__(self, message, *, part=None):
        super().__init__(message)
        self.part = part


def parse_wkt(text):
    """The shapely geometry of a WKT text (longitude latitude order)."""
    if len(text) > MAX_WKT_LENGTH:
        raise SpatialError(f"the WKT text is longer than {MAX_WKT_LENGTH} characters")
    try:
        with numpy.errstate(over="ignore"):  # 1e999 reads as inf, refused by _checked
            geometry = shapely.from_wkt(text)
    except shapely.errors.ShapelyError as error:
        raise SpatialError(f"not a WKT geometry ({_first_line(error)})") from None
    return _checked(geometry)


def parse_geojson(value):
    """The shapely geometry of a GeoJSON geometry object (a dict)."""
    try:
        geometry = shapes.shape(value)
    except (
        shapely.errors.ShapelyError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,  # a "type" that is not a string
    ) as error:
        raise SpatialError(f"not a GeoJSON geometry ({_first_line(error)})") from None
    return _checked(geometry)


def parse_bbox(text):
    """The area of `minLon,minLat,maxLon,maxLat`; a box whose west edge is east of its east
    edge crosses the antimeridian, and is the two boxes either side of it."""
    parts = text.split(",")
    if len(parts) != 4:
        raise SpatialError("expected 4 numbers: minLon,minLat,maxLon,maxLat")
    west, south, east, north = (_number(part) for part in parts)
    for name, value, limit in (("longitude", west, 180), ("longitude", east, 180)):
        if abs(value) > limit:
            raise SpatialError(f"{name} {value} is outside -{limit}..{limit}")
    for value in (south, north):
        if abs(value) > 90:
            raise SpatialError(f"latitude {value} is outside -90..90")
    if south > north:
        raise SpatialError("minLat is above maxLat")
    if west <= east:
        area = shapes.box(west, south, east, north)
    else:
        area = shapes.MultiPolygon(
            [shapes.box(west, south, 180, north), shapes.box(-180, south, east, north)]
        )
    # A box without width or height is a line or a point: GEOS finds nothing in a polygon
    # of no area, which make_valid turns into what the box does hold.
    return area if area.is_valid else shapely.make_valid(area)


def footprint_of(geojson):
    """(footprint, bbox) of a stored GeoJSON geometry: its 2D WKB and (west, south, east,
    north); (None, four Nones) when it has no point or is not a geometry shapely reads."""
    nothing = None, (None,) * 4
    if not geojson:
        return nothing
    try:
        geometry = parse_geojson(geojson)
    except SpatialError:
        return nothing
    bbox = tuple(float(value) for value in geometry.bounds)
    return shapely.to_wkb(geometry, output_dimension=2), bbox


class Circle:
    """The points within `radius` metres of (lon, lat) on the WGS84 ellipsoid."""

    def __init__(self, lon, lat, radius):
        if not (math.isfinite(lon) and -180 <= lon <= 180):
            raise SpatialError(f"longitude {lon} is outside -180..180", part="lon")
        if not (math.isfinite(lat) and -90 <= lat <= 90):
            raise SpatialError(f"latitude {lat} is outside -90..90", part="lat")
        if not (math.isfinite(radius) and 0 <= radius <= MAX_RADIUS):
            message = f"radius {radius} is not a distance from 0 to {MAX_RADIUS} metres"
            raise SpatialError(message, part="radius")
        self.lon, self.lat, self.radius = lon, lat, radius

    def boxes(self):
        """Boxes holding every point of the circle."""
        reach = self.radius / METRES_PER_DEGREE
        south, north = self.lat - reach, self.lat + reach
        if south <= -90 or north >= 90:
            return [(-180, max(south, -90), 180, min(north, 90))]  # a pole is inside
        widest = max(abs(south), abs(north))
        half_width = reach / math.cos(math.radians(widest))
        if half_width >= 180:
            return [(-180, south, 180, north)]
        west, east = self.lon - half_width, self.lon + half_width
        if west < -180:
            return [(west + 360, south, 180, north), (-180, south, east, north)]
        if east > 180:
            return [(west, south, 180, north), (-180, south, east - 360, north)]
        return [(west, south, east, north)]

    def intersects(self, geometry):
        """Whether a point of `geometry` is within the radius of the centre."""
        centre = shapes.Point(self.lon, self.lat)
        if geometry.intersects(centre):
            return True
        if isinstance(geometry, shapes.Point):
            return self._distance(geometry.x, geometry.y) <= self.radius
        # In the azimuthal equidistant projection centred here, a point's distance from the
        # origin is its distance from the centre along the ellipsoid. Only the parts inside
        # the circle's boxes can be near enough: the rest is not followed point by point.
        projection = pyproj.Proj(proj="aeqd", lat_0=self.lat, lon_0=self.lon, datum="WGS84")
        for box in self.boxes():
            near = shapely.clip_by_rect(geometry, *box)
            if near.is_empty:
                continue
            followed = shapely.segmentize(near, EDGE_STEP)
            projected = shapely.transform(followed, lambda xy: _project(projection, xy))
            if projected.distance(shapes.Point(0, 0)) <= self.radius:
                return True
        return False

    def certain_boxes(self):
        """A circle fills no box: each candidate is measured."""
        return []

    def _distance(self, lon, lat):
        return WGS84.inv(self.lon, self.lat, lon, lat)[2]


class Area:
    """A shapely geometry as a search shape: products match what shapely's intersects says."""

    def __init__(self, geometry):
        self.geometry = geometry
        shapely.prepare(geometry)

    def boxes(self):
        parts = self._parts()
        if parts is None:
            return [self.geometry.bounds]
        return [part.bounds for part in parts if not part.is_empty]

    def certain_boxes(self):
        """Boxes the area fills: a product whose box lies inside one surely intersects."""
        return [part.bounds for part in self._parts() or [] if _is_box(part)]

    def _parts(self):
        """The parts whose boxes the SQL names one by one; None when too many for one
        statement (SQLite's expressions nest at most 1000 deep): the whole box then."""
        parts = getattr(self.geometry, "geoms", [self.geometry])
        return list(parts) if len(parts) <= MAX_BOXES else None

    def intersects(self, geometry):
        return self.geometry.intersects(geometry)


def filter_intersecting(queryset, shape):
    """The products of `queryset` whose geometry intersects `shape` (an Area or a Circle)."""
    if isinstance(shape, Area) and postgis_indexed(queryset.db):
        return queryset.filter(FootprintIntersects(shape.geometry))
    overlapping = _any_box(_overlaps, shape.boxes())
    if overlapping is None:
        return queryset.none()
    certain = _any_box(_inside, shape.certain_boxes())
    candidates = queryset.filter(overlapping)
    if certain is not None:
        candidates = candidates.exclude(certain)
    matches, misses = [], []
    # Only ids and footprints are read: no prefetch (a search's files) applies to them.
    rows = candidates.prefetch_related(None).order_by().values_list("id", "footprint")
    for product_id, footprint in rows.iterator():
        geometry = shapely.from_wkb(bytes(footprint))
        (matches if shape.intersects(geometry) else misses).append(product_id)
    # Whichever list is shorter goes into the SQL.
    if certain is None and len(misses) < len(matches):
        return queryset.filter(overlapping).exclude(id__in=misses)
    found = Q(id__in=matches)
    return queryset.filter(found if certain is None else found | certain)


class FootprintIntersects(Expression):
    """PostGIS: the product's footprint intersects `geometry`. The footprint is read by the
    expression the GiST index of migration 0009 covers, so the planner uses that index."""

    output_field = BooleanField()

    def __init__(self, geometry):
        super().__init__()
        self.wkb = shapely.to_wkb(geometry, output_dimension=2)

    def as_sql(self, compiler, connection):
        # The base table's alias in the query being compiled: "products_product", or U0…
        # when the queryset is a subquery (CQL2's S_INTERSECTS under NOT or OR).
        table = compiler.quote_name_unless_alias(compiler.query.base_table)
        sql = f"ST_Intersects(ST_GeomFromWKB({table}.footprint, 4326), ST_GeomFromWKB(%s, 4326))"
        return sql, [self.wkb]


def postgis_indexed(alias):
    """Whether database `alias` is PostgreSQL with the footprint's GiST index (migration 0009
    makes it where PostGIS can be installed)."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return False
    return _has_index(alias, connection.settings_dict["NAME"])


@functools.cache
def _has_index(alias, database_name):
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [POSTGIS_INDEX])
        return cursor.fetchone() is not None


def _overlaps(west, south, east, north):
    return Q(bbox_west__lte=east, bbox_east__gte=west, bbox_south__lte=north, bbox_north__gte=south)


def _inside(west, south, east, north):
    return Q(bbox_west__gte=west, bbox_east__lte=east, bbox_south__gte=south, bbox_north__lte=north)


def _any_box(condition, boxes):
    """The OR of `condition` over the boxes; None when there is none."""
    conditions = [condition(*box) for box in boxes]
    if not conditions:
        return None
    combined = conditions[0]
    for other in conditions[1:]:
        combined |= other
    return combined


def _is_box(geometry):
    return (
        isinstance(geometry, shapes.Polygon)
        and not geometry.is_empty
        and geometry.equals(shapes.box(*geometry.bounds))
    )


def _project(projection, xy):
    return numpy.column_stack(projection(xy[:, 0], xy[:, 1]))


def _checked(geometry):
    if geometry.is_empty:
        raise SpatialError("the geometry is empty")
    if not all(math.isfinite(value) for value in geometry.bounds):
        raise SpatialError("the geometry has non-finite coordinates")
    return geometry


def _number(text):
    try:
        value = float(text)
    except ValueError:
        raise SpatialError(f"{text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise SpatialError(f"{text.strip()!r} is not a finite number")
    return value


def _first_line(error):
    return str(error).splitlines()[0] if str(error) else type(error).__name__
