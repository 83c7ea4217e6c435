"""Facets of a product search, in the shapes of REGARDS's indexer (README, "Facets"): the
values of a field among the matches, counted with aggregate queries on both databases.

Every statement reads the matches once, as the table `r` of a WITH clause (Sample): the
typed values the facets need, of the first `limit` matches in id order. The property
values and bounds routes read them all.
"""

import dataclasses
import datetime
import itertools
import json
import math
import re

from django.db import connection
from django.db.models import F, Func, JSONField, TextField, Value

from regards_catalog.exceptions import InvalidRequest

MAX_FACETS = 10
MAX_WORDS = 10  # values of a STRING facet; `others` counts the rest
RANGES = 10  # ranges of a NUMERIC or DATE facet, of equal width between min and max
PROPERTY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
WORD_COLUMNS = {
    "id": "urn",
    "providerId": "provider_id",
    "label": "label",
    "dataset": "dataset__urn",
}
DATE_COLUMNS = {"start_date": "start_date", "end_date": "end_date"}
NAMES = "properties.<name>, tags, " + ", ".join([*WORD_COLUMNS, *DATE_COLUMNS])

# The typed values of a property, from the sample's columns `{c}` (PostgreSQL: its JSON
# value; SQLite: its JSON type and its value), per database.
PROPERTY_SQL = {
    "postgresql": {
        "w": "CASE WHEN jsonb_typeof({c}) = 'string' THEN {c} #>> '{{}}' END",
        "n": "CASE WHEN jsonb_typeof({c}) = 'number' THEN ({c})::float8 END",
    },
    "sqlite": {
        "w": "CASE WHEN {c}_type = 'text' THEN {c} END",
        "n": "CASE WHEN {c}_type IN ('integer', 'real') THEN {c} END",
    },
}
# The string elements of a `tags` list, one row each; a non-list holds none.
TAG_ROWS = {
    "postgresql": (
        "CROSS JOIN LATERAL jsonb_array_elements(CASE jsonb_typeof({c}) WHEN 'array' THEN {c} END)"
        " AS t(e) WHERE jsonb_typeof(t.e) = 'string'",
        "t.e #>> '{{}}'",
    ),
    "sqlite": (
        "JOIN json_each(CASE json_type({c}) WHEN 'array' THEN {c} ELSE '[]' END) AS t"
        " WHERE t.type = 'text'",
        "t.value",
    ),
}


@dataclasses.dataclass
class Field:
    """A facet's field: its name in the answer, and the product column it reads."""

    name: str
    column: str
    kind: str  # "word", "date", "tags" or "property" (typed by the values found)

    def projections(self, n):
        """({alias: expression} the sample selects, [typed SQL AS w|n|d|t<n>] over them):
        a property is read once per product, then typed from that small JSON value."""
        c = f"c{n}"
        if self.kind != "property":
            letter = {"word": "w", "date": "d", "tags": "t"}[self.kind]
            return {c: F(self.column)}, [f"s.{c} AS {letter}{n}"]
        key = self.name.removeprefix("properties.")
        if connection.vendor == "postgresql":
            read = {
                c: Func(
                    F("properties"),
                    Value(key),
                    template="(%(expressions)s)",
                    arg_joiner=" -> ",
                    output_field=JSONField(),
                )
            }
        else:
            path = Value(f'$."{key}"')
            read = {
                c: Func(F("properties"), path, function="json_extract", output_field=TextField()),
                f"{c}_type": Func(
                    F("properties"), path, function="json_type", output_field=TextField()
                ),
            }
        typed = PROPERTY_SQL[connection.vendor]
        return read, [f"{typed[letter].format(c=f's.{c}')} AS {letter}{n}" for letter in "wn"]


def field(name, parameter="facets"):
    """The Field a facet (or a property route) names; InvalidRequest when unknown."""
    if name in WORD_COLUMNS:
        return Field(name, WORD_COLUMNS[name], "word")
    if name in DATE_COLUMNS:
        return Field(name, DATE_COLUMNS[name], "date")
    if name == "tags":
        return Field(name, "tags", "tags")
    key = name.removeprefix("properties.")
    if name.startswith("properties.") and PROPERTY_NAME.fullmatch(key):
        return Field(name, "properties", "property")
    raise InvalidRequest(f"{parameter}: unknown field {name!r}; the fields are {NAMES}.")


def property_field(name, parameter):
    """The Field of a property route's name: a facet's name, or a bare property name (REGARDS
    scripts write both `properties.platform` and `platform`)."""
    known = name in WORD_COLUMNS or name in DATE_COLUMNS or name == "tags"
    if not known and PROPERTY_NAME.fullmatch(name):
        name = f"properties.{name}"
    return field(name, parameter)


def requested_fields(names):
    """The Fields of the `facets` parameters, once each, in the order given."""
    names = list(dict.fromkeys(names))
    if len(names) > MAX_FACETS:
        raise InvalidRequest(f"facets: at most {MAX_FACETS} facets.")
    return [field(name) for name in names]


class Sample:
    """The values of `fields` in the first `limit` products of `products` in id order (all
    of them when None), as the table `r` of a WITH clause: column w<n> holds the n-th
    field's text values, n<n> its numbers, d<n> its dates, t<n> its tags list.

    MATERIALIZED: the products are read and typed once per statement, however many
    aggregates read `r`.
    """

    def __init__(self, products, fields, limit=None):
        self.number = {f.name: n for n, f in enumerate(fields)}
        read, typed = {}, []
        for n, f in enumerate(fields):
            projections, columns = f.projections(n)
            read.update(projections)
            typed += columns
        values = products.prefetch_related(None)
        values = values.order_by("id") if limit else values.order_by()
        values = values.values(**read)
        if limit:
            values = values[:limit]
        sql, params = values.query.sql_with_params()
        self.sql = f"WITH r AS MATERIALIZED (SELECT {', '.join(typed)} FROM ({sql}) s)"
        self.params = list(params)

    def column(self, f, letter):
        return f"r.{letter}{self.number[f.name]}"

    def query(self, select, params=()):
        """The rows of `SELECT select…` (which reads `r`) after the WITH clause."""
        return _rows(f"{self.sql} SELECT {select}", [*self.params, *params])


def _rows(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def facets(products, fields, *, limit):
    """The REGARDS facets of `fields` over `products` (the first `limit` of them), in two
    statements: the types, bounds and words of every field, then the ranges (a DATE or
    NUMERIC facet needs the least and greatest value to cut its ranges)."""
    if not fields:
        return []
    sample = Sample(products, fields, limit)
    worded = [f for f in fields if f.kind != "date"]
    word_selects, params = [], []
    for f in worded:
        sql, word_params = _words_sql(sample, f)
        word_selects.append(WORDS_AS_JSON[connection.vendor].format(words=sql))
        params += word_params
    # COUNT(*) makes one row of it, whatever the other selects are.
    summary = ["COUNT(*)", *_summary_selects(sample, fields)]
    (row,) = sample.query(f"{', '.join(summary + word_selects)} FROM r", params)
    ranges = _range_kinds(fields, list(row[1 : len(summary)]))
    words = dict(zip([f.name for f in worded], row[len(summary) :], strict=True))
    answers = {}
    for f in fields:
        if f.kind == "date" and ranges[f.name] is None:  # no dates among the matches
            answers[f.name] = {"attributeName": f.name, "type": "DATE", "values": []}
        elif ranges.get(f.name) is None:
            answers[f.name] = word_facet(f, *_words(words[f.name], MAX_WORDS))
    ranged = [(f, ranges[f.name]) for f in fields if ranges.get(f.name)]
    if ranged:  # read again, these fields only
        ranged_sample = Sample(products, [f for f, _ in ranged], limit)
        answers.update(_count_ranges(ranged_sample, ranged))
    return [answers[f.name] for f in fields]


def bounds(products, fields):
    """[{propertyName, lowerBound, upperBound}] over all of `products`: numbers and dates
    (ISO), null for a field without any (or with text values)."""
    ranges = {}
    if fields:
        sample = Sample(products, fields)
        (row,) = sample.query(
            f"{', '.join(['COUNT(*)', *_summary_selects(sample, fields)])} FROM r"
        )
        ranges = _range_kinds(fields, list(row[1:]))
    answers = []
    for f in fields:
        low = high = None
        if ranges.get(f.name) is not None:
            kind, _, low, high = ranges[f.name]
            if kind == "DATE" and f.kind == "date":
                low, high = _iso(_parsed_date(low)), _iso(_parsed_date(high))
            low, high = _shown(low), _shown(high)
        answers.append({"propertyName": f.name, "lowerBound": low, "upperBound": high})
    return answers


def word_facet(f, words, others):
    return {
        "attributeName": f.name,
        "type": "STRING",
        "values": [
            {"word": word, "count": count, "openSearchQuery": f'{f.name}:"{_quoted(word)}"'}
            for word, count in words
        ],
        "others": others,
    }


# A words query as one JSON value: [[word, count, total of all words], …].
WORDS_AS_JSON = {
    "postgresql": "(SELECT json_agg(json_build_array(x.v, x.n, x.total)) FROM ({words}) x)",
    "sqlite": "(SELECT json_group_array(json_array(x.v, x.n, x.total)) FROM ({words}) x)",
}


def word_counts(sample, f, *, partial_text="", max_words=MAX_WORDS, by_count=True):
    """([(word, count)] most frequent first (else only), then in code point order; the count
    of the values left out), for the string values of `f` starting with `partial_text`."""
    sql, params = _words_sql(
        sample, f, partial_text=partial_text, max_words=max_words, by_count=by_count
    )
    (row,) = sample.query(WORDS_AS_JSON[connection.vendor].format(words=sql), params)
    return _words(row[0], max_words, by_count)


def _words_sql(sample, f, *, partial_text="", max_words=MAX_WORDS, by_count=True):
    """(SQL, params) of the words query: rows (v, n, total) over `r`."""
    rest, value = "WHERE TRUE", sample.column(f, "w")
    if f.kind == "tags":
        tags = sample.column(f, "t")
        rest, value = (sql.format(c=tags) for sql in TAG_ROWS[connection.vendor])
    where, params = f"AND {value} IS NOT NULL", []
    if partial_text:
        where += f" AND substr({value}, 1, %s) = %s"
        params += [len(partial_text), partial_text]
    collate = ' COLLATE "C"' if connection.vendor == "postgresql" else ""
    order = f"{'2 DESC, ' if by_count else ''}v{collate}"
    sql = (
        f"SELECT v, COUNT(*) AS n, SUM(COUNT(*)) OVER () AS total "
        f"FROM (SELECT {value} AS v FROM r {rest} {where}) w GROUP BY v ORDER BY {order} LIMIT %s"
    )
    return sql, [*params, max_words]


def _words(rows, max_words, by_count=True):
    """([(word, count)] in order, others) from a words query's JSON."""
    rows = json.loads(rows) if isinstance(rows, str) else rows or []
    words = [(str(word), int(count)) for word, count, _ in rows]
    # JSON aggregates keep no order by contract: sort again (str order is code point order).
    words.sort(key=(lambda w: (-w[1], w[0])) if by_count else (lambda w: w[0]))
    total = int(rows[0][2]) if rows else 0
    return words[:max_words], total - sum(count for _, count in words)


def _summary_selects(sample, fields):
    """The aggregates _range_kinds reads, in its order."""
    selects = []
    for f in fields:
        if f.kind == "property":
            selects += [f"COUNT({sample.column(f, 'w')})", f"COUNT({sample.column(f, 'n')})"]
            selects += [
                f"{aggregate}({sample.column(f, letter)})"
                for letter in "nw"
                for aggregate in ("MIN", "MAX")
            ]
        elif f.kind == "date":
            selects += [f"{aggregate}({sample.column(f, 'd')})" for aggregate in ("MIN", "MAX")]
    return selects


def _range_kinds(fields, row):
    """{name: ("NUMERIC" or "DATE", column letter of the values, min, max) or None} for the
    fields counted by ranges, from the aggregates of _summary_selects. A property is NUMERIC
    when its values are all numbers; DATE when its text values, the least and the greatest
    at least, are ISO dates (they are compared as text, as Lucene compares them); else a
    STRING facet of its text values."""
    kinds = {}
    for f in fields:
        if f.kind == "date":
            low, high = row.pop(0), row.pop(0)
            kinds[f.name] = None if low is None else ("DATE", "d", low, high)
        elif f.kind == "property":
            words, numbers = row.pop(0), row.pop(0)
            number_bounds, word_bounds = (row.pop(0), row.pop(0)), (row.pop(0), row.pop(0))
            if numbers and not words:
                kinds[f.name] = ("NUMERIC", "n", *number_bounds)
            elif words and all(map(_parsed_date, word_bounds)):
                kinds[f.name] = ("DATE", "w", *word_bounds)
            else:
                kinds[f.name] = None
    return kinds


def _count_ranges(sample, ranged):
    """{name: facet} for [(Field, (type, column letter, min, max))], in one query."""
    selects, params, plans = [], [], []
    for f, (kind, letter, low, high) in ranged:
        sql = sample.column(f, letter)
        bounds = _bounds(f, kind, low, high)
        for n, (lower, upper) in enumerate(bounds):
            last = n == len(bounds) - 1
            selects.append(
                f"COUNT(CASE WHEN {sql} >= %s AND {sql} {'<=' if last else '<'} %s THEN 1 END)"
            )
            params += [_db_value(f, lower), _db_value(f, upper)]
        plans.append((f, kind, bounds))
    (row,) = sample.query(f"{', '.join(selects)} FROM r", params)
    counts, answers = iter(row), {}
    for f, kind, bounds in plans:
        values = []
        for n, (lower, upper) in enumerate(bounds):
            count = next(counts)
            if not count:
                continue
            lower, upper = _shown(lower), _shown(upper)
            closing = "]" if n == len(bounds) - 1 else "}"
            values.append(
                {
                    "lowerBound": lower,
                    "upperBound": upper,
                    "count": count,
                    "openSearchQuery": f"{f.name}:[{_term(lower)} TO {_term(upper)}{closing}",
                }
            )
        answers[f.name] = {"attributeName": f.name, "type": kind, "values": values}
    return answers


def _bounds(f, kind, low, high):
    """RANGES ranges of equal width from `low` to `high` (one when they are equal); the outer
    bounds are the values found, so that the first and last ranges hold them exactly (a
    property's date text is compared as text, as Lucene queries compare it)."""
    if kind == "DATE":
        start, end = _parsed_date(low), _parsed_date(high)
        cuts = [start + (end - start) * n / RANGES for n in range(1, RANGES)] if end > start else []
        cuts = [_iso(cut) for cut in cuts]
        if f.kind == "date":  # a column: a datetime, or SQLite's text of one
            low, high = _iso(start), _iso(end)
    else:
        width = high / RANGES - low / RANGES  # no overflow between ±1.8e308
        cuts = [low + width * n for n in range(1, RANGES)] if high > low else []
        cuts = [
            int(cut) if isinstance(low, int) and float(cut).is_integer() else cut for cut in cuts
        ]
    edges = [low, *dict.fromkeys(cuts), high]
    return list(itertools.pairwise(edges))


def _parsed_date(value):
    """An aware datetime from a date column or ISO text; None when not a date."""
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def _iso(moment):
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _db_value(f, value):
    """A bound as the database compares it with `f`'s values."""
    if f.kind == "date":
        return connection.ops.adapt_datetimefield_value(_parsed_date(value))
    return value


def _shown(value):
    return value if isinstance(value, str) else (int(value) if _integral(value) else value)


def _integral(value):
    return isinstance(value, int) or (
        math.isfinite(value) and value.is_integer() and abs(value) < 2**53
    )


def _term(value):
    """A range bound in Lucene: numbers as they are, text (dates) quoted."""
    return str(value) if not isinstance(value, str) else f'"{_quoted(value)}"'


def _quoted(text):
    return text.replace("\\", "\\\\").replace('"', '\\"')
