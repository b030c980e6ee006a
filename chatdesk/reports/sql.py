"""SQL building blocks the reports need on both PostgreSQL and SQLite: epoch seconds, hour windows, percentiles."""
from __future__ import annotations

import math
from contextlib import contextmanager
from functools import wraps

from django.db import connections, transaction
from django.db.models import Aggregate, DateTimeField, FloatField, Func


class Epoch(Func):
    """Seconds since 1970 (UTC) of a datetime, as a float: lets durations and windows be plain arithmetic."""

    arity = 1
    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::double precision", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # Django stores UTC datetimes as text. Whole seconds from '%s' plus the
        # fraction from '%f' (SS.SSS) stay exact; julianday() would put 30 s at 29.99999.
        # The backend turns '%%' into '%' once it has put in the parameters.
        sql, params = compiler.compile(self.source_expressions[0])
        text = (
            f"(CAST(strftime('%%s', {sql}) AS INTEGER)"
            f" + (CAST(strftime('%%f', {sql}) AS REAL) - CAST(strftime('%%S', {sql}) AS INTEGER)))"
        )
        return text, (*params, *params, *params)


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate: the interpolated percentile of an expression."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, fraction: float, expression, **extra):
        if not 0 <= float(fraction) <= 1:
            raise ValueError("fraction must be between 0 and 1")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def _interpolate(low: float, high: float | None, weight: float) -> float:
    return low if high is None else low + (high - low) * weight


def percentiles(queryset, expression, fractions) -> list[float | None]:
    """Interpolated percentiles (percentile_cont semantics) of `expression` over `queryset`; None when it is empty.

    Rows where the expression is NULL are the caller's to exclude. On
    PostgreSQL one query with percentile_cont; elsewhere the count, then the
    (at most) two rows each percentile sits between, read with ORDER BY ...
    LIMIT 2 OFFSET k: a few small queries, never the whole column.
    """
    vendor = connections[queryset.db].vendor
    if vendor == "postgresql":
        row = queryset.aggregate(**{f"p{i}": PercentileCont(f, expression) for i, f in enumerate(fractions)})
        return [row[f"p{i}"] for i in range(len(fractions))]
    ordered = queryset.annotate(_value=expression).order_by("_value")
    n = ordered.count()
    if n == 0:
        return [None for _ in fractions]
    out = []
    for fraction in fractions:
        position = fraction * (n - 1)
        k = math.floor(position)
        pair = list(ordered.values_list("_value", flat=True)[k:k + 2])
        out.append(_interpolate(pair[0], pair[1] if len(pair) > 1 else None, position - k))
    return out


class PlusHours(Func):
    """A datetime plus a number of hours (a column or a value), so a window is a range the indexes can use.

    PostgreSQL: `dt + hours * interval '1 hour'`. SQLite: strftime with a
    `+N hours` modifier, to the millisecond (Django's stored text compares
    correctly against it except within the same millisecond).
    """

    arity = 2
    output_field = DateTimeField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection,
                           template="(%(expressions)s * INTERVAL '1 hour')", arg_joiner=" + ", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        dt_sql, dt_params = compiler.compile(self.source_expressions[0])
        hours_sql, hours_params = compiler.compile(self.source_expressions[1])
        return (f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', {dt_sql}, '+' || ({hours_sql}) || ' hours')",
                (*dt_params, *hours_params))


@contextmanager
def analytic_queries(using: str = "default"):
    """Run report queries with PostgreSQL's JIT off.

    Their estimated costs (correlated subqueries over every row in range)
    pass PostgreSQL's JIT thresholds, and compiling them took longer than
    running them: 2.6 s of 4.5 s for the intervention figures over 30,000
    assignments in bench/reports_bench.py. SET LOCAL ends with the transaction.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        yield


def analytic(fn):
    """Decorator form of analytic_queries."""

    @wraps(fn)
    def wrapped(*args, **kwargs):
        with analytic_queries():
            return fn(*args, **kwargs)

    return wrapped
