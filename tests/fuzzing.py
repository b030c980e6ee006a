"""Hypothesis helpers for fuzzing: run a property inside a test (or its event loop), JSON strategies, row counts.

Hypothesis drives a synchronous function; the sockets under test live in the
test's event loop. `run_property` runs Hypothesis in a worker thread and each
example as a coroutine on the loop, so that one set of sockets serves every
example (and shrinking still works).
"""
from __future__ import annotations

import asyncio
import os

from django.apps import apps
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Modest by default so the suite stays fast (it runs twice in CI); raise it locally for a deeper search.
EXAMPLES = int(os.environ.get("CHATDESK_FUZZ_EXAMPLES", "30"))

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
# Strings that break naive code: markup, NUL and control characters, right-to-left marks, long runs.
NASTY_TEXT = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\u202e", "<script>alert(1)</script>", "' OR 1=1 --", "%s%n", "{{7*7}}",
    "\ud7ff", "😀" * 10, "x" * 4000, "x" * 4001, "\n" * 50,
]) | st.text(max_size=60)


async def run_property(strategy, check, max_examples: int = EXAMPLES) -> None:
    """Run `check(value)` (a coroutine function) on this loop for every example Hypothesis draws."""
    loop = asyncio.get_running_loop()

    @settings(max_examples=max_examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def prop(value):
        asyncio.run_coroutine_threadsafe(check(value), loop).result(120)

    await asyncio.to_thread(prop)


def check_property(strategy, check, max_examples: int = EXAMPLES) -> None:
    """Run `check(value)` (a plain function) for every example Hypothesis draws, inside the calling test."""

    @settings(max_examples=max_examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def prop(value):
        check(value)

    prop()


def row_counts() -> dict[str, int]:
    """Rows per model of the project's apps, in one query."""
    models = [m for label in ("chatdesk", "agents") for m in apps.get_app_config(label).get_models()]
    quote = connection.ops.quote_name
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quote(m._meta.db_table)})" for m in models)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    return {m._meta.label: n for m, n in zip(models, row)}


def diff_counts(before: dict, after: dict) -> dict:
    return {k: after[k] - before[k] for k in after if after[k] != before.get(k)}
