"""Single-round-trip writes the ORM has no call for: an INSERT that may meet a unique row already stored
(ON CONFLICT DO NOTHING, saying which happened) and an INSERT-or-UPDATE that returns the row as it now is.
Built with Django's own insert compiler, so every field's default, pre_save and database conversion applies.
And the hot paths' statements built once per process: an INSERT, an UPDATE by key, a SELECT."""

from __future__ import annotations

import copy
import datetime
import threading
import time
from collections.abc import Callable, Sequence

from django.db import connections, migrations, router, transaction
from django.db.models import Model, QuerySet
from django.db.models.constants import OnConflict
from django.db.models.query import ModelIterable
from django.db.models.sql import InsertQuery, UpdateQuery
from django.db.transaction import TransactionManagementError


def _insert_fields(model: type[Model]) -> list:
    return [f for f in model._meta.local_concrete_fields if not f.primary_key]


def _insert_compiled(obj: Model, using: str, *, returning_pk: bool, on_conflict: OnConflict | None = None):
    """The INSERT of obj's model as Django's compiler writes it, and the compiler, for a statement built once
    per process and then run with each call's values (_insert_values). Refused for a model with database
    defaults, whose INSERT names different columns depending on the values."""
    model = type(obj)
    fields = _insert_fields(model)
    if any(f.has_db_default() for f in fields):
        raise ValueError(f"{model.__name__} has database defaults: its INSERT is not the same each time")
    query = InsertQuery(model, on_conflict=on_conflict)
    query.insert_values(fields, [obj])
    compiler = query.get_compiler(using=using)
    if returning_pk:
        compiler.returning_fields = [model._meta.pk]
    [(sql, _)] = compiler.as_sql()
    return sql, compiler


def _insert_values(obj: Model, fields: list, connection) -> list:
    """obj's values for _insert_compiled's statement: each field's pre_save and database conversion, as the
    insert compiler applies them."""
    return [field.get_db_prep_save(field.pre_save(obj, True), connection=connection) for field in fields]


_insert_sql: dict[tuple[type[Model], str, OnConflict | None], str] = {}


def _insert_returning_pk_sql(obj: Model, using: str, on_conflict: OnConflict | None = None) -> str:
    """The `INSERT … RETURNING pk` of obj's model (with `on_conflict`), compiled on its first use in the process."""
    key = (type(obj), using, on_conflict)
    sql = _insert_sql.get(key)
    if sql is None:
        sql, _ = _insert_compiled(obj, using, returning_pk=True, on_conflict=on_conflict)
        _insert_sql[key] = sql
    return sql


def insert_unless_stored(obj: Model) -> bool:
    """INSERT obj, or nothing when a unique constraint already holds such a row (no savepoint, no error).
    True, with obj.pk set, when this call stored it. Every inbound message is stored so: the statement is
    built by Django's compiler once per model and process, then only the values are prepared."""
    model = type(obj)
    using = router.db_for_write(model)
    connection = connections[using]
    sql = _insert_returning_pk_sql(obj, using, OnConflict.IGNORE)
    params = _insert_values(obj, _insert_fields(model), connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    obj._state.adding, obj._state.db = False, using
    return True


_upsert_sql: dict[tuple, tuple[str, list, list, dict]] = {}


def upsert_returning(
    obj: Model,
    *,
    conflict_fields: Sequence[str],
    assignments: Sequence[str],
    assignment_params: Sequence[object] = (),
) -> Model:
    """INSERT obj; on a conflict on `conflict_fields` run `assignments` (SQL "column = expression" pieces,
    EXCLUDED.column for the value obj carried, %s for a value from `assignment_params`) instead. One statement
    either way; returns the stored row (a new instance, as the database has it now).
    The row is locked until commit, as any UPDATE would lock it.

    A hot path (every inbound message upserts its conversation): the statement is built by Django's insert
    compiler once per model, conflict target and assignments, then only the values are prepared, each field's
    pre_save and database conversion applied as the compiler applies them; the row comes back through the
    fields' database converters, as a queryset's would."""
    model = type(obj)
    opts = model._meta
    using = router.db_for_write(model)
    connection = connections[using]
    fields = _insert_fields(model)
    key = (model, using, tuple(conflict_fields), tuple(assignments))
    prepared = _upsert_sql.get(key)
    if prepared is None:
        qn = connection.ops.quote_name
        sql, compiler = _insert_compiled(obj, using, returning_pk=False)
        target = ", ".join(qn(opts.get_field(name).column) for name in conflict_fields)
        returned = list(opts.concrete_fields)
        columns = ", ".join(qn(f.column) for f in returned)
        sql = f"{sql} ON CONFLICT ({target}) DO UPDATE SET {', '.join(assignments)} RETURNING {columns}"
        converters = compiler.get_converters([f.get_col(opts.db_table) for f in returned])
        prepared = _upsert_sql[key] = (sql, fields, [f.attname for f in returned], converters)
    sql, fields, attnames, converters = prepared
    params = _insert_values(obj, fields, connection)
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        cursor.execute(sql, [*params, *assignment_params])
        row = cursor.fetchone()
    values = list(row)
    for position, (functions, expression) in converters.items():
        for convert in functions:
            values[position] = convert(values[position], expression, connection)
    return model.from_db(using, attnames, values)


def insert_prepared(obj: Model) -> Model:
    """`obj.save(force_insert=True)` for a hot path: the INSERT's SQL is built by Django's compiler once per
    model and process, then only the values are prepared (each field's pre_save and database conversion, as
    the compiler does). About half a millisecond less per row than save(), which rebuilds the statement each
    time. No pre_save/post_save signals are sent: only for models that have no receivers (say so there)."""
    model = type(obj)
    using = router.db_for_write(model)
    connection = connections[using]
    sql = _insert_returning_pk_sql(obj, using)
    params = _insert_values(obj, _insert_fields(model), connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        obj.pk = cursor.fetchone()[0]
    obj._state.adding, obj._state.db = False, using
    return obj


_update_sql: dict[tuple, tuple[str, list, list]] = {}


def update_prepared(model: type[Model], where: dict[str, object], **changes: object) -> int:
    """`model.objects.filter(**where).update(**changes)` for a hot path: building and compiling an UPDATE costs
    the ORM about 0.2 ms, more than running it. Here the statement is written once per model, columns and
    database, then only the values are prepared, as Django's update compiler prepares them (get_db_prep_save
    for the new values, get_db_prep_value for the conditions). Plain values and equality conditions only: an
    expression (F(), Now()), a model instance or a condition on None is refused. Returns the rows updated; as
    QuerySet.update, it sends no signals and leaves auto_now fields alone."""
    using = router.db_for_write(model)
    connection = connections[using]
    key = (model, using, tuple(changes), tuple(where))
    prepared = _update_sql.get(key)
    if prepared is None:
        opts = model._meta
        qn = connection.ops.quote_name
        set_fields = [opts.get_field(name) for name in changes]
        where_fields = [opts.pk if name == "pk" else opts.get_field(name) for name in where]
        if any(not f.concrete or f.primary_key or hasattr(f, "get_placeholder") for f in set_fields):
            raise ValueError(f"update_prepared sets plain columns only, not {list(changes)}")
        assignments = ", ".join(f"{qn(f.column)} = %s" for f in set_fields)
        conditions = " AND ".join(f"{qn(f.column)} = %s" for f in where_fields)
        sql = f"UPDATE {qn(opts.db_table)} SET {assignments} WHERE {conditions}"
        prepared = _update_sql[key] = (sql, set_fields, where_fields)
    sql, set_fields, where_fields = prepared
    params = []
    for field, value in zip(set_fields, changes.values(), strict=True):
        if hasattr(value, "resolve_expression") or hasattr(value, "prepare_database_save"):
            raise ValueError(f"update_prepared takes plain values, not {value!r} for {field.name}")
        params.append(field.get_db_prep_save(value, connection=connection))
    for field, value in zip(where_fields, where.values(), strict=True):
        if value is None or hasattr(value, "resolve_expression"):
            raise ValueError(f"update_prepared compares with plain values, not {value!r} for {field.name}")
        params.append(field.get_db_prep_value(value, connection, prepared=False))
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


class PreparedSelect:
    """A hot read whose ORM build and compilation cost more than the query itself (the bot's context:
    several milliseconds of Python for one round trip), built and compiled by Django once per process and
    database, then run with each call's values. Rows come back as model instances through Django's own
    ModelIterable: select_related objects, annotations and converters as the queryset would give them.

    `build(**values)` returns the queryset; it is called once, with a distinct placeholder integer for each
    keyword, and every occurrence of a placeholder among the compiled parameters is then replaced by the
    call's value. So the queryset may use the values only as query parameters (never branch on them), and
    only integers (ids). A placeholder the compiled query does not carry as a parameter is refused, and so
    is a date or time among the parameters (it would stay the one of the first call)."""

    _PLACEHOLDER_BASE = -(2**62)  # no id is negative: a placeholder cannot meet a real constant

    def __init__(self, build: Callable[..., QuerySet], *names: str) -> None:
        self.build = build
        self.names = names
        self._prepared: dict[str, tuple[QuerySet, object, str, list, dict[int, str], dict]] = {}
        self._lock = threading.Lock()

    def _compiled(self, using: str, placeholders: dict[str, int]) -> tuple[QuerySet, object, str, list]:
        queryset = self.build(**placeholders).using(using)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()  # also fills compiler.select, klass_info and annotation_col_map
        return queryset, compiler, sql, list(params)

    def _prepare(self, using: str):
        placeholders = {name: self._PLACEHOLDER_BASE + k for k, name in enumerate(self.names)}
        queryset, compiler, sql, params = self._compiled(using, placeholders)
        by_value = {value: name for name, value in placeholders.items()}
        slots = {i: by_value[p] for i, p in enumerate(params) if isinstance(p, int) and p in by_value}
        missing = set(self.names) - set(slots.values())
        if missing:
            raise ValueError(f"the query does not carry {sorted(missing)} as parameters")
        if any(isinstance(p, datetime.date | datetime.timedelta) for p in params):
            # timezone.now() in the queryset would be frozen at the first call: such a read is not preparable.
            raise ValueError("the query carries a date or time fixed when it was built")
        # The row converters (the fields' from_db_value, the backend's own) of the compiled columns, which the
        # compiler would otherwise look up for each of some 40 columns on every call. They take the connection
        # as an argument when they run, so any thread's connection can use them.
        converters = compiler.get_converters([col for col, _, _ in compiler.select[: compiler.col_count]])
        return queryset, compiler, sql, list(params), slots, converters

    def fetch(self, *, using: str = "default", **values: int) -> list[Model]:
        prepared = self._prepared.get(using)
        if prepared is None:
            with self._lock:
                prepared = self._prepared.get(using) or self._prepare(using)
                self._prepared[using] = prepared
        template, template_compiler, sql, params, slots, converters = prepared
        params = list(params)
        for i, name in slots.items():
            params[i] = int(values[name])
        connection = connections[using]  # this thread's connection, not the one that compiled
        if template.query.select_for_update and connection.get_autocommit():
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        compiler = copy.copy(template_compiler)
        compiler.connection = connection
        compiler.as_sql = lambda *args, **kwargs: (sql, params)
        compiler.get_converters = lambda expressions: converters
        queryset = template._chain()
        queryset.query.get_compiler = lambda *args, **kwargs: compiler
        return list(ModelIterable(queryset))

    def fetch_one(self, *, using: str = "default", **values: int) -> Model | None:
        """The row of a query that selects at most one (by primary key), or None."""
        rows = self.fetch(using=using, **values)
        return rows[0] if rows else None


class PreparedUpdateSelect(PreparedSelect):
    """An UPDATE of some rows and the SELECT of them as updated, in one statement where a read and then a
    write took two round trips: `WITH <table> AS (UPDATE <table> ... RETURNING *) SELECT ...`. The CTE takes
    the table's name, so the SELECT that `build` compiles (its joins and select_related included) reads the
    updated rows in its place, and only the rows the UPDATE matched. `update(**values)` returns the queryset
    to update and its new values, under the same placeholder rules as `build`. PostgreSQL runs the one
    statement; another database (the embedded SQLite) runs the UPDATE and then, if it matched, the SELECT."""

    def __init__(
        self,
        build: Callable[..., QuerySet],
        update: Callable[..., tuple[QuerySet, dict]],
        *names: str,
    ) -> None:
        super().__init__(build, *names)
        self.update = update

    def _compiled(self, using: str, placeholders: dict[str, int]) -> tuple[QuerySet, object, str, list]:
        queryset, compiler, sql, params = super()._compiled(using, placeholders)
        connection = connections[using]
        if connection.vendor != "postgresql":
            return queryset, compiler, sql, params
        to_update, values = self.update(**placeholders)
        update_query = to_update.query.chain(UpdateQuery)
        update_query.add_update_values(values)
        update_sql, update_params = update_query.get_compiler(using=using).as_sql()
        table = connection.ops.quote_name(queryset.model._meta.db_table)
        if not sql.startswith("SELECT ") or f" FROM {table}" not in sql:
            raise ValueError(f"the query does not read {table} as its own table")
        return queryset, compiler, f"WITH {table} AS ({update_sql} RETURNING *) {sql}", [*update_params, *params]

    def fetch(self, *, using: str = "default", **values: int) -> list[Model]:
        if connections[using].vendor != "postgresql":
            to_update, new_values = self.update(**values)
            if not to_update.using(using).update(**new_values):
                return []
        return super().fetch(using=using, **values)


# A persistent connection released this recently needs no health check (Django's CONN_HEALTH_CHECKS: a
# SELECT 1 round trip before its first query) when the next request or task takes it: back-to-back work
# skips the check, a connection idle for longer is still checked. A server that went away in between shows
# as an error on the first query, and Django drops the connection after it (errors_occurred).
RECENTLY_USED_SECONDS = 1.0


def connections_mark_released() -> None:
    """At the end of a request or a task (after Django's own close_old_connections)."""
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        conn.sufrah_released_at = now


def connections_trust_recent() -> None:
    """At the start of a request or a task (after Django's close_old_connections reset the check)."""
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and now - getattr(conn, "sufrah_released_at", -1e9) < RECENTLY_USED_SECONDS:
            conn.health_check_done = True


class AddIndexOnline(migrations.AddIndex):
    """AddIndex built with CREATE INDEX CONCURRENTLY on PostgreSQL, plainly elsewhere (SQLite, embedded).

    A plain CREATE INDEX holds off every insert and update of the table until it is built: on a deployment's
    large messages table, the webhooks that arrive meanwhile cannot be stored. CONCURRENTLY cannot run inside
    a transaction: a migration using this says `atomic = False`, and adds its indexes before it drops the
    ones they replace, so no query is left without one in between. A build that fails leaves an INVALID
    index of that name behind: drop it before migrating again.
    """

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index, concurrently=True)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, concurrently=True)
