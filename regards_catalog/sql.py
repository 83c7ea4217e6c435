"""Helpers for the few statements written by hand on the download hot path, where building
the ORM's SQL cost more CPU than the database spent running it (bench/report.md, §3).

The statements name their tables and columns through the models' metadata, so a renamed
field is renamed there too, and they run unchanged on PostgreSQL and SQLite.
"""

import functools
import hashlib
import re
from collections.abc import Mapping

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.signals import connection_created

PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s")
EXECUTED = re.compile(r"EXECUTE (regards_\w+)")
_prepared_statements = {}  # name → the statement it runs, for `statement_behind`


def execute(cursor, statement, params=()):
    """`cursor.execute(statement, params)`; on PostgreSQL through a statement prepared once
    per connection: PostgreSQL spent more CPU planning the hot path's statements again on
    every download than running them. (SQLite keeps the compiled statements of a connection
    by itself.) `params` is a list for `%s` placeholders or a dict for `%(name)s` ones."""
    db = cursor.db  # this thread's connection (the `connection` proxy looks it up each time)
    if db.vendor != "postgresql":
        cursor.execute(statement, params)
        return
    name, prepare, names = _prepared_form(statement)
    prepared = getattr(db, "prepared_statements", None)
    if prepared is None:
        prepared = db.prepared_statements = set()
    if name not in prepared:
        # On the driver's own cursor: preparing is not one of the code's statements (query
        # counts and logs see the EXECUTE), and it outlives a transaction rolled back.
        with db.connection.cursor() as raw:
            raw.execute(prepare)
        prepared.add(name)
    values = [params[key] for key in names] if isinstance(params, Mapping) else list(params)
    cursor.execute(
        f"EXECUTE {name}({', '.join(['%s'] * len(values))})" if values else f"EXECUTE {name}",
        values,
    )


@functools.cache
def _prepared_form(statement):
    """(name, PREPARE statement, parameter names in $n order) of a statement."""
    if "%%" in statement:
        raise ValueError("a prepared statement cannot hold a literal %")
    names, numbers = [], {}

    def number(match):
        key = match[1] if match[1] is not None else len(names)
        if key not in numbers:
            names.append(key)
            numbers[key] = len(names)
        return f"${numbers[key]}"

    body = PLACEHOLDER.sub(number, statement)
    name = "regards_" + hashlib.sha1(statement.encode()).hexdigest()[:16]
    _prepared_statements[name] = statement
    return name, f"PREPARE {name} AS {body}", names


def statement_behind(logged):
    """The statement that a logged `EXECUTE regards_…(…)` ran (as written, with its
    placeholders), or `logged` itself: query counts and reports classify what ran."""
    match = EXECUTED.match(logged)
    return _prepared_statements.get(match[1], logged) if match else logged


def _forget_prepared(sender, connection, **kwargs):
    """A new database connection has none of the statements the last one prepared."""
    connection.prepared_statements = set()


connection_created.connect(_forget_prepared, dispatch_uid="regards_forget_prepared")


def quoted(name):
    return connection.ops.quote_name(name)


def table(model):
    return quoted(model._meta.db_table)


def column(model, field_name):
    return quoted(model._meta.get_field(field_name).column)


class Columns:
    """The scalar columns of a model, selected under a table alias and read back into an
    instance. JSON, binary and long text columns are left out (deferred: loaded if used),
    since the hot path reads none of them and decoding them is what costs."""

    LEFT_OUT = (models.JSONField, models.BinaryField, models.TextField)

    def __init__(self, model, alias):
        self.model = model
        self.fields = [
            field
            for field in model._meta.concrete_fields
            if not isinstance(field, self.LEFT_OUT) or field.primary_key
        ]
        self.attnames = [field.attname for field in self.fields]
        self.sql = ", ".join(f"{alias}.{quoted(field.column)}" for field in self.fields)

    def __len__(self):
        return len(self.fields)

    @functools.cached_property
    def converters(self):
        """[(index, column, converters)] of the columns whose values need converting (on
        SQLite: booleans and dates), as the ORM's compiler finds them."""
        found = []
        for index, field in enumerate(self.fields):
            col = field.get_col(self.model._meta.db_table)
            functions = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if functions:
                found.append((index, col, functions))
        return found

    def instance(self, values):
        """The model instance of `values` (this many columns of a row), as the ORM builds
        it: database converters applied, the rest of its fields deferred."""
        values = list(values)
        if self.converters:
            db = _this_thread_connection()
            for index, col, functions in self.converters:
                for convert in functions:
                    values[index] = convert(values[index], col, db)
        return self.model.from_db(DEFAULT_DB_ALIAS, self.attnames, values)


def _this_thread_connection():
    """The connection the `connection` proxy stands for: looked up once per statement
    rather than once per field (each proxy access looks up this thread's connection)."""
    return connections[DEFAULT_DB_ALIAS]


@functools.cache
def _insert_sql(model, after_update=None):
    """(fields, INSERT statement) of a model; after `after_update` (an UPDATE statement with
    `%(name)s` placeholders), a statement that runs the UPDATE first and inserts the row
    only if the UPDATE changed one."""
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(quoted(field.column) for field in fields)
    pk = quoted(model._meta.pk.column)
    if after_update is None:
        marks = ", ".join(["%s"] * len(fields))
        return fields, f"INSERT INTO {table(model)} ({columns}) VALUES ({marks}) RETURNING {pk}"
    marks = ", ".join(
        f"CAST(%(insert_{index})s AS {_parameter_type(field)})"
        for index, field in enumerate(fields)
    )
    return fields, (
        f"WITH changed AS ({after_update} RETURNING 1) "
        f"INSERT INTO {table(model)} ({columns}) SELECT {marks} FROM changed RETURNING {pk}"
    )


def _parameter_type(field):
    """The type of a field's value in INSERT … SELECT, whose parameters do not take their
    types from the target columns as in INSERT … VALUES: the column's, or text for strings,
    so that a value too long for its column fails as it would there (a cast to varchar(n)
    would cut it silently)."""
    if isinstance(field, models.CharField):
        return "text"
    return field.cast_db_type(connection)


def writes_in_one_statement():
    """Whether this database runs an UPDATE and an INSERT as one statement (`insert`'s
    `after_update`): PostgreSQL does; SQLite has no UPDATE inside WITH."""
    return connection.vendor == "postgresql"


def insert(instance, *, after_update=None):
    """Write a new model instance, as `save()` would (its fields' `pre_save`, defaults and
    conversions), and set its primary key; no signal is sent. One statement whose text is
    built once per model (both databases return the new key: SQLite since 3.35).

    `after_update`: (UPDATE statement, its parameters by name), run first in the same
    statement, on a database that `writes_in_one_statement`; the instance is written only
    if the UPDATE changed a row, else None is returned. In autocommit, both or neither are
    written without a transaction's BEGIN and COMMIT round trips."""
    update, params = after_update or (None, None)
    fields, statement = _insert_sql(type(instance), update)
    db = _this_thread_connection()
    values = [field.get_db_prep_save(field.pre_save(instance, True), db) for field in fields]
    if update is not None:
        values = {**params, **{f"insert_{index}": value for index, value in enumerate(values)}}
    with db.cursor() as cursor:
        execute(cursor, statement, values)
        row = cursor.fetchone()
    if row is None:
        return None
    instance.pk = row[0]
    instance._state.adding = False
    instance._state.db = db.alias
    return instance


def update(model, pk, **values):
    """UPDATE the fields `values` of one row (by primary key); returns the rows changed (0
    or 1). What `QuerySet.filter(pk=pk).update(**values)` does for plain values, with the
    statement built once per model and set of fields."""
    fields, statement = _update_sql(model, tuple(values))
    db = _this_thread_connection()
    params = [
        field.get_db_prep_save(value, db)
        for field, value in zip(fields, values.values(), strict=True)
    ]
    with db.cursor() as cursor:
        execute(cursor, statement, [*params, pk])
        return cursor.rowcount


@functools.cache
def _update_sql(model, names):
    fields = [model._meta.get_field(name) for name in names]
    assignments = ", ".join(f"{quoted(field.column)} = %s" for field in fields)
    pk = quoted(model._meta.pk.column)
    return fields, f"UPDATE {table(model)} SET {assignments} WHERE {pk} = %s"
