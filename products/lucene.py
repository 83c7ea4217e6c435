"""Lucene query strings (SPEC §4 "Search") translated to a Q over products.Product.

luqum parses the text; one function per node type turns the tree into a Q. Values are
compared as the field wants: text fields by exact match or wildcard pattern, `tags`
by element of the JSON list or by the dataset's URN, `properties.<name>` by the type of
the queried value.
"""

import contextvars
import dataclasses
import datetime
import functools
import math
import operator
import re

from django.db import connection, models
from django.db.models import F, Q
from django.db.models.fields.json import HasKey, KeyTextTransform, KeyTransform
from django.db.models.lookups import IsNull
from luqum import tree
from luqum.thread import parse  # PLY's shared lexer is not thread safe; this clones it

from products.exceptions import InvalidQuery
from products.models import DataFile

MAX_LENGTH = 2000
MAX_DEPTH = 50
MAX_STARS = 5  # each `*` of a regex multiplies Python's backtracking on SQLite
# A property number is compared by the database as a 64-bit integer or a double: SQLite
# holds nothing wider, and PostgreSQL's JSON has no infinity.
MIN_INTEGER, MAX_INTEGER = -(2**63), 2**63 - 1

FILE_FIELDS = {"files.dataType": "data_type", "files.filename": "filename"}
DATE_FIELDS = ("start_date", "end_date")  # product columns, compared as moments


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """The fields a query may name, for one model."""

    text_fields: dict  # query name → (column, case-insensitive)
    bare_columns: tuple  # what a word without a field searches
    products: bool  # tags, properties.<name> and files.* exist too

    @property
    def allowed(self):
        extra = [*DATE_FIELDS, "tags", "properties.<name>", *FILE_FIELDS] if self.products else []
        return ", ".join([*self.text_fields, *extra])


PRODUCTS = Vocabulary(
    text_fields={
        "id": ("urn", False),
        "providerId": ("provider_id", False),
        "label": ("label", True),
        "dataset": ("dataset__urn", False),
    },
    bare_columns=("label", "provider_id"),
    products=True,
)
DATASETS = Vocabulary(
    text_fields={"id": ("urn", False), "label": ("label", True)},
    bare_columns=("label",),
    products=False,
)
# The translation under way: its vocabulary, and the DataFiles `files.*` fields search.
_VOCABULARY = contextvars.ContextVar("lucene_vocabulary")
_FILES = contextvars.ContextVar("lucene_files")
_BTREE_PROPERTIES = contextvars.ContextVar("lucene_btree_properties")
PROPERTY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\S+")
TEXT = models.TextField()  # its lookups (exact, istartswith, regex, gt…) compare any text
UNSUPPORTED = {
    tree.Fuzzy: "Fuzzy search (~)",
    tree.Proximity: "Proximity search (~)",
    tree.Boost: "Boosting (^)",
    tree.Regex: "Regular expression search (/…/)",
}


def lucene_to_q(text, *, files=None, vocabulary=PRODUCTS, btree_properties=frozenset()):
    """The Q selecting the products (or, with DATASETS, the datasets) matching the Lucene
    query `text`; InvalidQuery if malformed.

    `files`: the DataFile queryset that `files.*` fields search — the caller's downloadable
    files, so that a query cannot reveal private files the results would hide.
    `btree_properties`: the properties that lead a B-tree index (PostgreSQL): an equality on
    one of them is written for that index instead of the GIN one.
    """
    files_token = _FILES.set(DataFile.objects.all() if files is None else files)
    vocabulary_token = _VOCABULARY.set(vocabulary)
    btree_token = _BTREE_PROPERTIES.set(btree_properties)
    try:
        return _translate(text)
    finally:
        _BTREE_PROPERTIES.reset(btree_token)
        _VOCABULARY.reset(vocabulary_token)
        _FILES.reset(files_token)


def _translate(text):
    if not text or not text.strip():
        return Q()
    if len(text) > MAX_LENGTH:
        message = f"The query is longer than {MAX_LENGTH} characters."
        raise InvalidQuery(message, position=MAX_LENGTH)
    if "\x00" in text:  # PostgreSQL refuses NUL in text parameters
        raise InvalidQuery("The query contains a NUL character.", position=text.index("\x00"))
    try:
        node = parse(text)
    except Exception as error:  # besides ParseError, luqum lets decimal and assertion errors out
        raise _syntax_error(error, text) from None
    return _visit(node, None, 0)


def _syntax_error(error, text):
    message = re.sub(r"\s+", " ", str(error)).replace("Syntax error in input : ", "").rstrip("!")
    if match := re.search(r"at position (\d+)", message):
        return InvalidQuery(f"Malformed query: {message}.", position=int(match[1]))
    if message.endswith("at the end"):
        return InvalidQuery(f"Malformed query: {message}.", position=len(text))
    return InvalidQuery("Malformed query.", position=None)


class _Wildcard:
    """A `*` or `?` in a term; literals, escaped ones included, are plain strings."""


STAR, ONE = _Wildcard(), _Wildcard()


def wildcard_pieces(text, *, star, one, lone_escape=""):
    """`text` as literal strings and the wildcards STAR (the `star` character) and ONE (the
    `one` character), a backslash escaping the next character (a backslash at the end is
    `lone_escape`). Lucene writes * and ?, CQL2's LIKE % and _."""
    pieces, chars = [], iter(text)
    for char in chars:
        if char in (star, one):
            if not (char == star and pieces and pieces[-1] is STAR):
                pieces.append(STAR if char == star else ONE)
            continue
        if char == "\\":
            char = next(chars, lone_escape)
        if pieces and isinstance(pieces[-1], str):
            pieces[-1] += char
        else:
            pieces.append(char)
    return pieces


def _pieces(term):
    """The term as literal strings and wildcards, escapes resolved; a phrase is one literal."""
    if isinstance(term, tree.Phrase):
        return [_literal(term)]
    pieces = wildcard_pieces(term.value, star="*", one="?")
    if pieces.count(STAR) > MAX_STARS:
        message = f"A term may hold at most {MAX_STARS} * wildcards."
        raise InvalidQuery(message, position=term.pos)
    return pieces or [""]


def _literal(term):
    if isinstance(term, tree.Phrase):
        return re.sub(r"\\(.)", r"\1", term.value[1:-1])
    return term.unescaped_value


def _regex(pieces):
    wildcards = {STAR: ".*", ONE: "."}
    return "".join(wildcards[p] if isinstance(p, _Wildcard) else re.escape(p) for p in pieces)


def _text_lookup(pieces, insensitive):
    """(lookup, value) for a pattern: LIKE-based lookups if the shape allows, else a regex."""
    i = "i" if insensitive else ""
    literals = [p for p in pieces if not isinstance(p, _Wildcard)]
    if len(literals) == len(pieces):
        return f"{i}exact", "".join(literals)
    if not literals and ONE not in pieces:
        return "isnull", False
    # SQLite's LIKE ignores the case of ASCII letters: a case-sensitive pattern is a regex there.
    like_keeps_case = insensitive or connection.vendor != "sqlite"
    if len(literals) == 1 and ONE not in pieces and like_keeps_case:
        # `abc*`, `*abc`, `*abc*`: LIKE, index-friendly
        shape = (pieces[0] is STAR, pieces[-1] is STAR)
        name = {(False, True): "startswith", (True, False): "endswith"}.get(shape, "contains")
        return f"{i}{name}", literals[0]
    # PostgreSQL and Python agree on (?s), \A, \Z and on backslash-escaped punctuation.
    return f"{i}regex", rf"(?s)\A{_regex(pieces)}\Z"


def _contains_lookup(pieces):
    """(lookup, value) for a bare word, matched anywhere; None when it matches everything."""
    while pieces and pieces[0] is STAR:
        pieces = pieces[1:]
    while pieces and pieces[-1] is STAR:
        pieces = pieces[:-1]
    if not pieces:
        return None
    if len(pieces) == 1 and not isinstance(pieces[0], _Wildcard):
        return "icontains", pieces[0]
    return "iregex", f"(?s){_regex(pieces)}"


class _TextField:
    def __init__(self, name, column, insensitive=False):
        self.name, self.column, self.insensitive = name, column, insensitive

    def match(self, term):
        return self.match_pieces(_pieces(term))

    def match_pieces(self, pieces):
        name, value = _text_lookup(pieces, self.insensitive)
        return self.wrap(TEXT.get_lookup(name)(F(self.column), value))

    def compare(self, op, term):
        return self.compare_text(op, _literal(term))

    def compare_text(self, op, text):
        return self.wrap(TEXT.get_lookup(op)(F(self.column), text))

    def wrap(self, condition):
        return Q(condition)


class _FileField(_TextField):
    def wrap(self, condition):
        return Q(models.Exists(_FILES.get().filter(condition, product=models.OuterRef("pk"))))


class _TagMatches(models.Func):
    """True when an element of the `tags` JSON list is `=` or `LIKE` the value."""

    output_field = models.BooleanField()

    def __init__(self, op, value):
        super().__init__(F("tags"))
        self.op, self.value = op, value

    def as_sql(self, compiler, connection):  # PostgreSQL
        tags, params = compiler.compile(self.source_expressions[0])
        escape = " ESCAPE '\\'" if self.op == "LIKE" else ""
        # The CASE keeps a non-list value (saved by hand in the admin) from raising an error.
        elements = (
            f"jsonb_array_elements_text(CASE jsonb_typeof({tags}) WHEN 'array' THEN {tags} END)"
        )
        sql = f"EXISTS (SELECT 1 FROM {elements} AS t(value) WHERE t.value {self.op} %s{escape})"
        return sql, (*params, *params, self.value)

    def as_sqlite(self, compiler, connection):
        tags, params = compiler.compile(self.source_expressions[0])
        escape = " ESCAPE '\\'" if self.op == "LIKE" else ""
        sql = f"EXISTS (SELECT 1 FROM json_each({tags}) WHERE json_each.value {self.op} %s{escape})"
        return sql, (*params, self.value)


class _TagsField:
    """A product's tags are its own, plus its dataset's URN (as REGARDS tags products; the
    serializer shows them so): the URN is read from the dataset, never copied."""

    name = "tags"

    def match(self, term):
        return self._own_tags(term) | _TextField(self.name, "dataset__urn").match(term)

    def _own_tags(self, term):
        pieces = _pieces(term)
        if not any(isinstance(p, _Wildcard) for p in pieces):
            if connection.vendor == "postgresql":  # containment uses the GIN index
                return Q(tags__contains=[pieces[0]])
            return Q(_TagMatches("=", pieces[0]))
        like = {STAR: "%", ONE: "_"}
        pattern = "".join(
            like[p] if isinstance(p, _Wildcard) else re.sub(r"([\\%_])", r"\\\1", p) for p in pieces
        )
        return Q(_TagMatches("LIKE", pattern))

    def compare(self, op, term):
        raise InvalidQuery("tags cannot be searched by range.", position=term.pos)


class _DateField:
    """start_date, end_date: a date alone means that whole day (UTC), as for properties."""

    def __init__(self, name):
        self.name = name

    def match(self, term):
        if isinstance(term, tree.Word) and term.value == "*":
            return Q(**{f"{self.name}__isnull": False})
        moment, text = self._moment(term)
        return self.match_moment(moment, whole_day=bool(DATE.fullmatch(text)))

    def match_moment(self, moment, *, whole_day):
        """`moment`, or with `whole_day` every moment of that day (UTC)."""
        if whole_day:
            return Q(**{f"{self.name}__gte": moment}) & self.compare_moment(
                "lte", moment, whole_day=True
            )
        return Q(**{self.name: moment})

    def compare(self, op, term):
        moment, text = self._moment(term)
        return self.compare_moment(op, moment, whole_day=bool(DATE.fullmatch(text)))

    def compare_moment(self, op, moment, *, whole_day):
        if whole_day and op in ("gt", "lte"):
            # Times of the day sort after the day: `<= day` means `< next day`.
            try:
                op, moment = {"gt": "gte", "lte": "lt"}[op], moment + datetime.timedelta(days=1)
            except OverflowError:  # no day follows 9999-12-31
                return Q(pk__in=[]) if op == "gt" else Q(**{f"{self.name}__isnull": False})
        return Q(**{f"{self.name}__{op}": moment})

    def _moment(self, term):
        text = _literal(term)
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            message = f"{self.name} takes a date such as 2022-06-13 or 2022-06-13T10:00:00Z."
            raise InvalidQuery(message, position=term.pos) from None
        return (moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)), text


class _JsonTypeIs(models.Func):
    """True when properties.<name> holds a JSON value of `kind`; never NULL, so NOT stays exact."""

    output_field = models.BooleanField()
    TYPES = {
        "postgresql": {
            "number": ["number"],
            "boolean": ["boolean"],
            "string": ["string"],
            "present": ["number", "boolean", "string", "array", "object"],  # not JSON null
        },
        "sqlite": {
            "number": ["integer", "real"],
            "boolean": ["true", "false"],
            "string": ["text"],
            "present": ["integer", "real", "true", "false", "text", "array", "object"],
        },
    }

    def __init__(self, name, kind):
        super().__init__(F("properties"))
        self.name, self.kind = name, kind

    def as_sql(self, compiler, connection):  # PostgreSQL
        return self._sql(compiler, connection, "jsonb_typeof({} -> %s)", self.name)

    def as_sqlite(self, compiler, connection):
        return self._sql(compiler, connection, "json_type({}, %s)", f'$."{self.name}"')

    def _sql(self, compiler, connection, function, key):
        properties, params = compiler.compile(self.source_expressions[0])
        types = self.TYPES[connection.vendor][self.kind]
        sql = f"COALESCE({function.format(properties)}, '') IN ({', '.join(['%s'] * len(types))})"
        return sql, (*params, key, *types)


class _PropertyField:
    def __init__(self, name):
        self.name = f"properties.{name}"
        self.key = name

    def match(self, term):
        return self.match_typed(*_typed(term, pattern=True))

    def match_typed(self, kind, value):
        """Equality with a value of `kind` (as _typed returns); a string list is a pattern."""
        if kind == "any":
            return Q(HasKey(F("properties"), self.key))
        if kind == "date" and DATE.fullmatch(value):  # a day matches every time of that day
            return self._guarded("string", TEXT.get_lookup("startswith")(self._text(), value))
        if kind == "string" and isinstance(value, list):  # a wildcard pattern
            name, value = _text_lookup(value, insensitive=False)
            return self._guarded("string", TEXT.get_lookup(name)(self._text(), value))
        if connection.vendor == "postgresql":
            if self.key in _BTREE_PROPERTIES.get():
                # Containment of a scalar, in the form its B-tree serves. IS NOT NULL makes a
                # missing key false rather than NULL, so that NOT stays exact.
                key = KeyTransform(self.key, "properties")
                return Q(self._json_lookup("exact", value)) & Q(IsNull(key, False))
            return Q(properties__contains={self.key: value})  # GIN index, exact per type
        if kind in ("number", "boolean"):
            return self._guarded(kind, self._json_lookup("exact", value))
        return self._guarded("string", TEXT.get_lookup("exact")(self._text(), value))

    def compare(self, op, term):
        kind, value = _typed(term, pattern=False)
        if kind == "boolean":
            raise InvalidQuery("true and false cannot bound a range.", position=term.pos)
        return self.compare_typed(op, kind, value)

    def compare_typed(self, op, kind, value):
        if kind == "number":
            # JSON comparison: numeric on both databases, no cast that a text value could break.
            return self._guarded("number", self._json_lookup(op, value))
        if kind == "date" and DATE.fullmatch(value) and op in ("gt", "lte"):
            # Stored datetimes sort after their day: `<= day` means `< next day`.
            op, value = {"gt": "gte", "lte": "lt"}[op], _day_after(value)
        return self._guarded("string", TEXT.get_lookup(op)(self._text(), value))

    def _json_lookup(self, op, value):
        # KeyTransform's own lookups (not `properties__<name>__<op>`, where a property
        # named like a lookup, e.g. `contains`, would be taken for one); the JSON-typed
        # Value is what those lookups expect as their right-hand side.
        json = KeyTransform(self.key, "properties")
        return json.get_lookup(op)(json, models.Value(value, output_field=models.JSONField()))

    def _text(self):
        return KeyTextTransform(self.key, "properties")

    def _guarded(self, kind, condition):
        return Q(_JsonTypeIs(self.key, kind)) & Q(condition)


def _day_after(day):
    """The ISO text of the day after `day`: it sorts after every time of `day`."""
    try:
        return (datetime.date.fromisoformat(day) + datetime.timedelta(days=1)).isoformat()
    except OverflowError:  # no date follows 9999-12-31, but this text sorts after its times
        return "9999-12-32"


def _number(text, term):
    """The int or float written in `text`; InvalidQuery beyond what the databases compare."""
    if re.search("[.eE]", text):
        value = float(text)  # 1e999 is inf: no database compares it
        if not math.isfinite(value):
            message = f"{text} is out of range: numbers reach about ±1.8e308."
            raise InvalidQuery(message, position=term.pos)
        return value
    value = int(text)
    if not MIN_INTEGER <= value <= MAX_INTEGER:
        message = f"{text} is out of range of a 64-bit integer; write it as a float, e.g. 1e20."
        raise InvalidQuery(message, position=term.pos)
    return value


def _typed(term, pattern):
    """(kind, value) of a property value: any, number, boolean, date or string (or pieces)."""
    if pattern and isinstance(term, tree.Word):
        pieces = _pieces(term)
        if any(isinstance(p, _Wildcard) for p in pieces):
            return ("any", None) if pieces == [STAR] else ("string", pieces)
    text = _literal(term)
    if isinstance(term, tree.Phrase):
        return "string", text
    if text in ("true", "false"):
        return "boolean", text == "true"
    if NUMBER.fullmatch(text):
        return "number", _number(text, term)
    if DATE.fullmatch(text) or DATETIME.fullmatch(text):
        try:
            datetime.datetime.fromisoformat(text)
        except ValueError:
            raise InvalidQuery(f"{text} is not a valid date.", position=term.pos) from None
        return "date", text
    return "string", text


def _field(node):
    name = node.name
    vocabulary = _VOCABULARY.get()
    if name in vocabulary.text_fields:
        return _TextField(name, *vocabulary.text_fields[name])
    if not vocabulary.products:
        message = f"Unknown field {name}; the fields are {vocabulary.allowed}."
        raise InvalidQuery(message, position=node.pos)
    if name in FILE_FIELDS:
        return _FileField(name, FILE_FIELDS[name])
    if name in DATE_FIELDS:
        return _DateField(name)
    if name == "tags":
        return _TagsField()
    if name.startswith("properties."):
        if PROPERTY_NAME.fullmatch(name.removeprefix("properties.")):
            return _PropertyField(name.removeprefix("properties."))
        message = f"{name} is not a valid property name (letters, digits and _ only)."
        raise InvalidQuery(message, position=node.pos)
    message = f"Unknown field {name}; the fields are {vocabulary.allowed}."
    raise InvalidQuery(message, position=node.pos)


def _negative_number(node):
    """luqum reads `x:-3` as NOT 3: the minus of a number right after a field is its sign."""
    if isinstance(node.a, tree.Word) and NUMBER.fullmatch(node.a.value):
        return tree.Word(f"-{node.a.value}", pos=node.pos)
    return None


def _bound(node):
    """The term bounding a range, or None for an open `*` bound."""
    if isinstance(node, tree.Prohibit) and (negative := _negative_number(node)):
        node = negative
    if not isinstance(node, (tree.Word, tree.Phrase)):
        raise InvalidQuery("A range bound must be a value.", position=node.pos)
    return None if node.value == "*" else node


def _range(field, bounds, node):
    if field is None:
        raise InvalidQuery("A range needs a field, as in label:[a TO b].", position=node.pos)
    conditions = [field.compare(op, term) for op, term in bounds if term is not None]
    if not conditions:  # `[* TO *]`: any value
        return field.match(tree.Word("*", pos=node.pos))
    return functools.reduce(operator.and_, conditions)


def _visit(node, field, depth):
    if depth > MAX_DEPTH:
        message = f"The query is nested more than {MAX_DEPTH} levels deep."
        raise InvalidQuery(message, position=node.pos)
    if type(node) in UNSUPPORTED:
        raise InvalidQuery(f"{UNSUPPORTED[type(node)]} is not supported.", position=node.pos)
    visitor = VISITORS.get(type(node))
    if visitor is None:
        raise InvalidQuery(f"{type(node).__name__} is not supported.", position=node.pos)
    return visitor(node, field, depth + 1)


def _visit_search_field(node, field, depth):
    if field is not None:
        raise InvalidQuery(f"{node.name} cannot be nested in {field.name}.", position=node.pos)
    return _visit(node.expr, _field(node), depth)


def _visit_term(node, field, depth):
    if node.value in ("&&", "||") or node.value.startswith("!"):  # Lucene syntax luqum lacks
        raise InvalidQuery("Write AND, OR and NOT instead of &&, || and !.", position=node.pos)
    if field is not None:
        return field.match(node)
    lookup = _contains_lookup(_pieces(node))
    if lookup is None:
        return Q()
    name, value = lookup
    columns = _VOCABULARY.get().bare_columns
    return functools.reduce(
        operator.or_, [Q(TEXT.get_lookup(name)(F(column), value)) for column in columns]
    )


def _visit_not(node, field, depth):
    if field is not None and (negative := _negative_number(node)):
        return field.match(negative)
    return ~_visit(node.a, field, depth)


def _visit_range(node, field, depth):
    lower = ("gte" if node.include_low else "gt", _bound(node.low))
    upper = ("lte" if node.include_high else "lt", _bound(node.high))
    return _range(field, [lower, upper], node)


def _visit_open_range(node, field, depth):
    if isinstance(node, tree.From):
        op = "gte" if node.include else "gt"
    else:
        op = "lte" if node.include else "lt"
    return _range(field, [(op, _bound(node.a))], node)


def _visit_and(node, field, depth):
    return functools.reduce(operator.and_, (_visit(c, field, depth) for c in node.children))


def _visit_or(node, field, depth):
    return functools.reduce(operator.or_, (_visit(c, field, depth) for c in node.children))


VISITORS = {
    tree.SearchField: _visit_search_field,
    tree.Group: lambda node, field, depth: _visit(node.expr, field, depth),
    tree.FieldGroup: lambda node, field, depth: _visit(node.expr, field, depth),
    tree.Word: _visit_term,
    tree.Phrase: _visit_term,
    tree.Plus: lambda node, field, depth: _visit(node.a, field, depth),
    tree.Not: _visit_not,
    tree.Prohibit: _visit_not,
    tree.Range: _visit_range,
    tree.From: _visit_open_range,
    tree.To: _visit_open_range,
    tree.AndOperation: _visit_and,
    tree.UnknownOperation: _visit_and,  # an implicit operator means AND here
    tree.OrOperation: _visit_or,
}
