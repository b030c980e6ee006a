"""Hand-written reads for what every returning shopper's `hello` (and every widget disconnect) asks.

Timing `hello` against the benchmark's data showed the ORM spending more CPU
building each of these small queries (0.5-2.9 ms) than PostgreSQL spent
answering them (~0.1 ms); in the reconnect storm 2,000 hellos arrive at
once. Each read here is one fixed SQL string, built once per process from
the models' own table names, loaded by `Model.objects.raw` (which still
applies the fields' converters, so JSON and Decimal come back as the ORM
gives them). Everything else stays in the ORM.
"""
from __future__ import annotations

from functools import cache
from typing import Callable

from django.db import connection


def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def first(model, sql: str, params):
    """The first row of `sql` as a `model` instance, or None."""
    for obj in model.objects.raw(sql, params):
        return obj
    return None


def statement(build: Callable[[], str]) -> Callable[[], str]:
    """`build()` run once: the SQL depends only on the models (and the one database) of this process."""
    return cache(build)
