"""SQL building blocks the reports need on both PostgreSQL and SQLite: epoch seconds and percentiles."""
from __future__ import annotations

import math

from django.db import connections
from django.db.models import Aggregate, FloatField, Func


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
