"""Helpers for the few statements written by hand on the download hot path, where building
the ORM's SQL cost more CPU than the database spent running it (bench/report.md, §3).

The statements name their tables and columns through the models' metadata, so a renamed
field is renamed there too, and they run unchanged on PostgreSQL and SQLite.
"""

import functools

from django.db import connection, models


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
        for index, col, functions in self.converters:
            for convert in functions:
                values[index] = convert(values[index], col, connection)
        return self.model.from_db(connection.alias, self.attnames, values)
