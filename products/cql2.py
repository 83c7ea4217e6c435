"""CQL2 filters (the STAC item search's `filter`) translated to a condition on products.Product.

pygeofilter parses CQL2 text and CQL2 JSON into one AST; this module walks it. The fields
and their comparisons are products.lucene's, so that a property, an id or a date compares
the same way in both search languages.

The logic is SQL's three-valued one, as CQL2 asks: a comparison with a missing or null
property, or with a property holding a value of another type (a string compared with a
number), is unknown, and NOT of unknown is unknown. Each node is therefore translated to a
pair of conditions, where it holds and where it fails; NOT swaps them, and the search keeps
the products where the whole filter holds.

S_INTERSECTS is exact (products.spatial): it becomes `pk IN (the products of the base
queryset whose geometry intersects the shape)`, which stays right under OR and NOT.
"""

import dataclasses
import datetime
import functools
import json
import math
import operator
import os
import re

import lark
import shapely
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThanOrEqual
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_json
from pygeofilter.parsers.cql2_text import parser as text_parser

from products import lucene, selectors, spatial

LANGUAGES = ("cql2-text", "cql2-json")
MAX_LENGTH = 20_000  # characters of the filter, text or JSON
MAX_DEPTH = 50
# Comparisons in one filter (each IN value, each BETWEEN bound counts): SQLite's expressions
# nest at most 1000 deep, and each comparison adds a few levels.
MAX_COMPARISONS = 100
NOTHING = Q(pk__in=[])
EVERYTHING = Q(pk__isnull=False)  # not Q(): Django drops an empty Q from `Q() | x`
COMPARISONS = {
    ast.Equal: "exact",
    ast.LessThan: "lt",
    ast.LessEqual: "lte",
    ast.GreaterThan: "gt",
    ast.GreaterEqual: "gte",
}
# `5 < x` is `x > 5`: the operator seen from the property's side.
MIRRORED = {"exact": "exact", "lt": "gt", "lte": "gte", "gt": "lt", "gte": "lte"}
OTHER_SPATIAL = (ast.SpatialComparisonPredicate, ast.SpatialDistancePredicate, ast.BBox, ast.Relate)
# Lucene's property names, plus one STAC extension prefix (`eo:cloud_cover`), which Lucene
# cannot name since `:` ends its field names.
PROPERTY_NAME = re.compile(rf"({lucene.PROPERTY_NAME.pattern}:)?{lucene.PROPERTY_NAME.pattern}")
FIELDS = "id, collection, datetime, start_datetime, end_datetime, geometry, properties.<name>"


# (pygeofilter 0.4.0's rule, ours): one-letter names; doubled quotes inside strings;
# T_INTERSECTS(a, b) written as a function, as CQL2 does (0.4.0 wants `a T_INTERSECTS b`);
# INTERVAL bounds that are dates or open ('..'), read by _TextTransformer.interval.
GRAMMAR_FIXES = [
    ("/[a-zA-Z][a-zA-Z_:0-9.]+/", "/[a-zA-Z][a-zA-Z_:0-9.]*/"),
    ('SINGLE_QUOTED: "\'" /.*?/ "\'"', "SINGLE_QUOTED: /'(?:[^']|'')*'/"),
    (
        "?temporal_predicate: expression _binary_temporal_predicate_func expression",
        '?temporal_predicate: _binary_temporal_predicate_func "(" expression "," expression ")"',
    ),
    (
        '?interval: "INTERVAL" "("  "\'" DATETIME "\'" "," "\'" DATETIME "\'" ")"',
        'interval: "INTERVAL"i "(" SINGLE_QUOTED "," SINGLE_QUOTED ")"',
    ),
]


@lark.v_args(inline=True)
class _TextTransformer(text_parser.CQLTransformer):
    def SINGLE_QUOTED(self, token):  # noqa: N802 (lark names the method after the terminal)
        return token[1:-1].replace("''", "'")

    def binary_temporal_predicate(self, op, lhs, rhs):
        if op.lower() != "t_intersects":  # pygeofilter reads T_OVERLAPS as T_INTERSECTS
            return _Unsupported(op.upper())
        return ast.TimeOverlaps(lhs, rhs)

    def interval(self, start, end):
        return values.Interval(*(_interval_bound(bound) for bound in (start, end)))


@dataclasses.dataclass
class _Unsupported:
    """An operator pygeofilter reads as another one: refused by name."""

    name: str


def _interval_bound(text):
    """A date, a timestamp, or None for an open bound ('..')."""
    if text == "..":
        return None
    if len(text) == 10:
        return datetime.date.fromisoformat(text)
    return datetime.datetime.fromisoformat(text)


def _text_parser():
    """pygeofilter's CQL2 text parser with its grammar corrected: 0.4.0 gives AND and OR the
    same precedence (`a OR b AND c` read as `(a OR b) AND c`), cannot negate a parenthesised
    condition (`NOT (a OR b)`), refuses one-letter property names, and ends a string at a
    doubled quote (`'O''Brien'`)."""
    folder = os.path.dirname(text_parser.__file__)
    with open(os.path.join(folder, "grammar.lark")) as file:
        grammar = file.read()
    start, end = grammar.index("?condition: condition_1"), grammar.index("?predicate:")
    conditions = """?condition: and_condition
          | condition "OR"i and_condition -> or_
?and_condition: not_condition
          | and_condition "AND"i not_condition -> and_
?not_condition: predicate
          | "NOT"i not_condition -> not_
          | "(" condition ")"

"""
    grammar = grammar[:start] + conditions + grammar[end:]
    for old, new in GRAMMAR_FIXES:
        if old not in grammar:  # pinned in requirements.txt; a new version needs a look
            raise RuntimeError(f"pygeofilter's CQL2 grammar changed: {old} is gone.")
        grammar = grammar.replace(old, new)
    return lark.Lark(
        grammar,
        parser="lalr",
        maybe_placeholders=False,
        transformer=_TextTransformer(),
        import_paths=[os.path.dirname(folder)],
    )


TEXT_PARSER = _text_parser()


class FilterError(Exception):
    """A filter that cannot be parsed or translated; the message says why."""


@dataclasses.dataclass(frozen=True)
class Condition:
    """Where a CQL2 predicate is true (`holds`) and where it is false (`fails`)."""

    holds: Q
    fails: Q

    def __invert__(self):
        return Condition(self.fails, self.holds)

    def __and__(self, other):
        return Condition(self.holds & other.holds, self.fails | other.fails)

    def __or__(self, other):
        return Condition(self.holds | other.holds, self.fails & other.fails)


def apply_filter(queryset, expression, lang="cql2-text"):
    """The products of `queryset` matching the CQL2 `expression`; FilterError if invalid."""
    node = _parse(expression, lang)
    token = lucene._BTREE_PROPERTIES.set(selectors.property_index_leaders())
    try:
        condition = _Translation(queryset).visit(node, 0)
    finally:
        lucene._BTREE_PROPERTIES.reset(token)
    return queryset.filter(condition.holds)


def _parse(expression, lang):
    if lang not in LANGUAGES:
        raise FilterError(f"Unknown filter-lang {lang!r}; use cql2-text or cql2-json.")
    if lang == "cql2-text" and not isinstance(expression, str):
        raise FilterError("A cql2-text filter is a string.")
    if lang == "cql2-json" and isinstance(expression, str):
        try:
            expression = json.loads(expression)
        except (ValueError, RecursionError):
            raise FilterError("The cql2-json filter is not valid JSON.") from None
    if lang == "cql2-json" and not isinstance(expression, dict):
        raise FilterError("A cql2-json filter is a JSON object.")
    try:
        length = len(expression if isinstance(expression, str) else json.dumps(expression))
    except (ValueError, TypeError, RecursionError):
        raise FilterError("The cql2-json filter is not valid JSON.") from None
    if length > MAX_LENGTH:
        raise FilterError(f"The filter is longer than {MAX_LENGTH} characters.")
    if _contains_nul(expression):  # PostgreSQL refuses NUL in text parameters
        raise FilterError("The filter contains a NUL character.")
    try:
        if lang == "cql2-text":
            return TEXT_PARSER.parse(expression)
        return parse_json(_standard_json(expression))
    except FilterError:
        raise
    except Exception as error:  # lark, pygeofilter and its date parsers raise many kinds
        raise FilterError(f"Malformed {lang} filter: {_first_line(error)}") from None


def _contains_nul(value):
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(key) or _contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


def _standard_json(node):
    """The CQL2 JSON in the forms pygeofilter 0.4.0 reads right: it takes `between` args as
    [value, [low, high]] (an early draft, also read as given; the standard writes [value,
    low, high]), and reads
    a {"bbox": [west, south, east, north]} in the wrong order (given here as a polygon)."""
    if isinstance(node, list):
        return [_standard_json(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _standard_json(value) for key, value in node.items()}
    if node.get("op") == "t_overlaps":  # pygeofilter would read it as t_intersects
        raise FilterError("T_INTERSECTS is the only temporal operator supported.")
    if node.get("op") == "between" and isinstance(node.get("args"), list):
        args = node["args"]
        # The draft's form is still sent (stac-api-validator does): it is read as well.
        draft = len(args) == 2 and isinstance(args[1], list) and len(args[1]) == 2
        if len(args) != 3 and not draft:
            raise FilterError("between takes a value, a lower and an upper bound.")
        node["args"] = args if draft else [args[0], args[1:]]
    if "bbox" in node and "op" not in node:
        node = _bbox_polygon(node["bbox"])
    return node


def _bbox_polygon(bbox):
    """The GeoJSON polygon of a CQL2 bbox [west, south, east, north]."""
    numbers = isinstance(bbox, list) and all(
        isinstance(value, int | float) and not isinstance(value, bool) for value in bbox
    )
    if not numbers or len(bbox) != 4:
        raise FilterError("A bbox is four numbers: west, south, east, north.")
    try:
        return shapely.geometry.mapping(spatial.parse_bbox(",".join(map(str, bbox))))
    except spatial.SpatialError as error:
        raise FilterError(f"Invalid bbox: {error}.") from None


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class _Translation:
    def __init__(self, queryset):
        self.queryset = queryset  # what S_INTERSECTS tests exactly
        self.comparisons = 0

    def visit(self, node, depth):
        if depth > MAX_DEPTH:
            raise FilterError(f"The filter is nested more than {MAX_DEPTH} levels deep.")
        self.count(node)
        if isinstance(node, ast.And | ast.Or):
            combine = operator.and_ if isinstance(node, ast.And) else operator.or_
            operands = _operands(node, type(node))
            return functools.reduce(combine, (self.visit(o, depth + 1) for o in operands))
        if isinstance(node, ast.Not):
            return ~self.visit(node.sub_node, depth + 1)
        if isinstance(node, ast.Include):
            return Condition(NOTHING, EVERYTHING) if node.not_ else Condition(EVERYTHING, NOTHING)
        if isinstance(node, ast.NotEqual):
            return ~self.compare(ast.Equal(node.lhs, node.rhs))
        if type(node) in COMPARISONS:
            return self.compare(node)
        if isinstance(node, ast.Between):
            field = _field(node.lhs)
            condition = field.compare("gte", node.low) & field.compare("lte", node.high)
            return ~condition if node.not_ else condition
        if isinstance(node, ast.In):
            field = _field(node.lhs)
            if not node.sub_nodes:
                raise FilterError("IN needs at least one value.")
            condition = functools.reduce(
                operator.or_, (field.compare("exact", value) for value in node.sub_nodes)
            )
            return ~condition if node.not_ else condition
        if isinstance(node, ast.Like):
            field, pattern = _field(node.lhs), node.pattern
            if isinstance(field, _IgnoringCase) and _casei_argument(pattern) is not None:
                pattern = _casei_argument(pattern)
            condition = field.like(_like_pieces(pattern))
            return ~condition if node.not_ else condition
        if isinstance(node, ast.IsNull):
            missing = _field(node.lhs).missing()
            condition = Condition(missing, ~missing)
            return ~condition if node.not_ else condition
        if isinstance(node, ast.GeometryIntersects):
            return self.intersects(node)
        if isinstance(node, ast.Function):
            name = "CASEI" if node.name == "lower" else node.name.upper()  # pygeofilter renames it
            raise FilterError(f"The function {name} is not supported.")
        if isinstance(node, OTHER_SPATIAL):
            raise FilterError("S_INTERSECTS is the only spatial operator supported.")
        if isinstance(node, ast.TimeOverlaps):
            return _field(node.lhs).intersects(node.rhs)
        if isinstance(node, ast.TemporalPredicate | _Unsupported):
            raise FilterError("T_INTERSECTS is the only temporal operator supported.")
        if isinstance(node, ast.Arithmetic):
            raise FilterError("Arithmetic (+, -, *, /) is not supported.")
        if isinstance(node, ast.Node) and not isinstance(node, ast.Attribute):
            raise FilterError(f"{type(node).__name__} is not supported in a filter.")
        raise FilterError(f"{_describe(node)} is not a condition.")

    def count(self, node):
        if isinstance(node, ast.In):
            if not isinstance(node.sub_nodes, list):
                raise FilterError("IN takes a list of values.")
            self.comparisons += len(node.sub_nodes)
        elif isinstance(node, ast.Between):
            self.comparisons += 2
        elif isinstance(node, ast.Predicate):
            self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            message = f"The filter makes more than {MAX_COMPARISONS} comparisons."
            raise FilterError(message)

    def compare(self, node):
        op = COMPARISONS[type(node)]
        if _names_property(node.lhs):
            return _field(node.lhs).compare(op, node.rhs)
        if _names_property(node.rhs):
            return _field(node.rhs).compare(MIRRORED[op], node.lhs)
        for side in (node.lhs, node.rhs):
            if isinstance(side, ast.Function | ast.Arithmetic):
                self.visit(side, 0)  # raises the error naming it
        raise FilterError("A comparison needs a property on one side.")

    def intersects(self, node):
        shape = node.rhs if _is_geometry_property(node.lhs) else node.lhs
        if not (_is_geometry_property(node.lhs) or _is_geometry_property(node.rhs)):
            raise FilterError("S_INTERSECTS compares the geometry property with a geometry.")
        try:
            area = spatial.Area(_shape(shape))
        except spatial.SpatialError as error:
            raise FilterError(f"S_INTERSECTS: {error}.") from None
        matching = spatial.filter_intersecting(self.queryset, area).values("pk")
        holds = Q(pk__in=matching)
        return Condition(holds, Q(geometry__isnull=False) & ~holds)


def _shape(value):
    """The shapely geometry of a WKT or GeoJSON geometry, or of BBOX(west,south,east,north)."""
    if isinstance(value, values.Geometry):
        return spatial.parse_geojson(value.geometry)
    if isinstance(value, ast.Function) and value.name == "bbox":
        polygon = _bbox_polygon(value.arguments)
        return spatial.parse_geojson(polygon)
    # pygeofilter's ENVELOPE(x1 x2 y1 y2) is not CQL2: refused rather than guessed.
    raise FilterError("S_INTERSECTS needs a geometry (WKT, GeoJSON or BBOX(w,s,e,n)).")


def _operands(node, kind):
    """The operands of a chain `a AND b AND c` (a tree of `kind`), in order: a long chain is
    one level of nesting, not one per operator."""
    operands, pending = [], [node]
    while pending:
        current = pending.pop()
        if isinstance(current, kind):
            pending += [current.rhs, current.lhs]
        else:
            operands.append(current)
    return operands


def _is_geometry_property(node):
    return isinstance(node, ast.Attribute) and node.name == "geometry"


def _describe(value):
    if isinstance(value, ast.Attribute):
        return f"The property {value.name}"
    return f"The value {value!r}"


def _names_property(node):
    """A property, or CASEI(property)."""
    return isinstance(node, ast.Attribute) or _casei_argument(node) is not None


def _casei_argument(node):
    """The X of CASEI(X) (pygeofilter names the function `lower`), else None."""
    if isinstance(node, ast.Function) and node.name == "lower" and len(node.arguments) == 1:
        return node.arguments[0]
    return None


def _field(node):
    if isinstance(_casei_argument(node), ast.Attribute):
        return _IgnoringCase(_field(_casei_argument(node)))
    if not isinstance(node, ast.Attribute):
        raise FilterError(f"{_describe(node)} must be a property name here.")
    name = node.name
    if not isinstance(name, str):
        raise FilterError(f"A property name is a string, not {name!r}.")
    if name == "id":
        return _TextField(lucene._TextField(name, "urn"))
    if name == "collection":
        return _TextField(lucene._TextField(name, "dataset__urn"))
    if name in ("datetime", "start_datetime"):
        return _DateField(name, "start_date")
    if name == "end_datetime":
        return _DateField(name, "end_date")
    if name == "geometry":
        raise FilterError("geometry can only be searched with S_INTERSECTS.")
    key = name.removeprefix("properties.")
    if not PROPERTY_NAME.fullmatch(key):
        message = (
            f"Unknown property {name}; the properties are {FIELDS} (letters, digits and _, "
            "after an optional prefix such as eo:)."
        )
        raise FilterError(message)
    return _PropertyField(key)


class _Field:
    def intersects(self, value):
        raise FilterError("T_INTERSECTS applies to datetime.")


class _TextField(_Field):
    """id and collection: the URN, compared as text, case-sensitive."""

    def __init__(self, field):
        self.field = field

    def compare(self, op, value):
        if not isinstance(value, str):
            raise FilterError(f"{self.field.name} is compared with a string, not {value!r}.")
        holds = self.field.compare_text(op, value)
        return Condition(holds, ~holds)  # never null

    def like(self, pieces, insensitive=False):
        field = lucene._TextField(self.field.name, self.field.column, insensitive)
        holds = field.match_pieces(pieces)
        return Condition(holds, ~holds)

    def missing(self):
        return NOTHING


class _DateField(_Field):
    """datetime (a product's start), start_datetime and end_datetime."""

    def __init__(self, name, column):
        self.name, self.column = name, column
        self.field = lucene._DateField(column)

    def compare(self, op, value):
        moment, whole_day = self._moment(value)
        if op == "exact":
            holds = self.field.match_moment(moment, whole_day=whole_day)
        else:
            holds = self.field.compare_moment(op, moment, whole_day=whole_day)
        return Condition(holds, Q(**{f"{self.column}__isnull": False}) & ~holds)

    def like(self, pieces, insensitive=False):
        raise FilterError(f"{self.name} is a date: LIKE does not apply.")

    def intersects(self, value):
        """T_INTERSECTS: the product's period (start to end, or its start alone) meets the
        instant, day or interval `value`."""
        if self.name != "datetime":
            raise FilterError("T_INTERSECTS applies to datetime.")
        if isinstance(value, values.Interval):
            start, end = value.start, value.end
        else:
            start = end = value
        holds = Q(start_date__isnull=False)
        if start is not None:
            moment, _ = self._moment(start)  # a day starts at midnight UTC
            period_end = Coalesce(F("end_date"), F("start_date"))
            holds &= Q(GreaterThanOrEqual(period_end, moment))
        if end is not None:
            moment, whole_day = self._moment(end)  # a day ends at the next midnight
            holds &= self.field.compare_moment("lte", moment, whole_day=whole_day)
        return Condition(holds, Q(start_date__isnull=False) & ~holds)

    def missing(self):
        return Q(**{f"{self.column}__isnull": True})

    def _moment(self, value):
        """(moment, whole day); a DATE means every moment of that day (UTC)."""
        if isinstance(value, str):  # clients often send the ISO text without TIMESTAMP()
            try:
                value = (
                    datetime.date.fromisoformat(value)
                    if len(value) == 10
                    else datetime.datetime.fromisoformat(value)
                )
            except ValueError:
                value = None
        if isinstance(value, datetime.datetime):
            return _utc(value), False
        if isinstance(value, datetime.date):
            return datetime.datetime.combine(value, datetime.time(), datetime.UTC), True
        if isinstance(value, datetime.timedelta):
            raise FilterError("Durations are not supported in intervals.")
        message = f"{self.name} is compared with TIMESTAMP('…') or DATE('…'), not {value!r}."
        raise FilterError(message)


class _IgnoringCase(_Field):
    """CASEI(field): `=`, `<>`, IN and LIKE ignoring case, on text fields and properties."""

    def __init__(self, field):
        if not isinstance(field, _TextField | _PropertyField):
            raise FilterError(f"CASEI applies to text: not to {field.name}.")
        self.field = field

    def compare(self, op, value):
        if op != "exact":
            raise FilterError("CASEI compares with =, <>, IN and LIKE only.")
        text = _casei_argument(value) if _casei_argument(value) is not None else value
        if not isinstance(text, str):
            raise FilterError(f"CASEI compares with a string, not {_describe(text)}.")
        return self.field.like([text], insensitive=True)

    def like(self, pieces, insensitive=True):
        return self.field.like(pieces, insensitive=True)

    def missing(self):
        return self.field.missing()


class _PropertyField(_Field):
    """properties.<name>: compared with a value of the same JSON type only."""

    JSON_TYPES = {"number": "number", "boolean": "boolean", "string": "string", "date": "string"}

    def __init__(self, key):
        self.key = key
        self.field = lucene._PropertyField(key)

    def compare(self, op, value):
        kind, value = self._typed(value)
        if op == "exact":
            holds = self.field.match_typed(kind, value)
        elif kind == "boolean":
            raise FilterError("true and false can only be compared with = and <>.")
        else:
            holds = self.field.compare_typed(op, kind, value)
        return self._condition(kind, holds)

    def like(self, pieces, insensitive=False):
        if not insensitive:
            return self._condition("string", self.field.match_typed("string", pieces))
        name, value = lucene._text_lookup(pieces, insensitive=True)
        lookup = lucene.TEXT.get_lookup(name)(self.field._text(), value)
        holds = self.field._guarded("string", lookup)
        return self._condition("string", holds)

    def missing(self):
        return ~Q(lucene._JsonTypeIs(self.key, "present"))

    def _condition(self, kind, holds):
        # Where the property holds a value of the compared type, the comparison is true or
        # false; elsewhere (missing, null, another type) unknown.
        comparable = Q(lucene._JsonTypeIs(self.key, self.JSON_TYPES[kind]))
        return Condition(holds, comparable & ~holds)

    def _typed(self, value):
        """(kind, value) as lucene's _PropertyField takes them."""
        if isinstance(value, bool):
            return "boolean", value
        if isinstance(value, int):
            if not lucene.MIN_INTEGER <= value <= lucene.MAX_INTEGER:
                raise FilterError(f"{value} is out of range of a 64-bit integer.")
            return "number", value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise FilterError("Numbers must be finite.")
            return "number", value
        if isinstance(value, str):
            return "string", value
        if isinstance(value, datetime.datetime):
            return "date", _utc(value).isoformat().replace("+00:00", "Z")
        if isinstance(value, datetime.date):
            return "date", value.isoformat()
        raise FilterError(f"properties.{self.key} cannot be compared with {_describe(value)}.")


def _utc(moment):
    """The moment in UTC; a moment without a time zone is taken as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.UTC)
    try:
        return moment.astimezone(datetime.UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise FilterError(f"{moment.isoformat()} is out of range.") from None


def _like_pieces(pattern):
    """The LIKE pattern as lucene's pieces: % any text, _ one character, \\ escapes."""
    if not isinstance(pattern, str):
        raise FilterError("LIKE takes a string pattern.")
    pieces = lucene.wildcard_pieces(pattern, star="%", one="_", lone_escape="\\")
    if pieces.count(lucene.STAR) > lucene.MAX_STARS:
        raise FilterError(f"A LIKE pattern may hold at most {lucene.MAX_STARS} %.")
    return pieces or [""]
