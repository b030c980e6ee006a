"""Time `/api/v1/reports/summary/` over 100,000 conversations and 1,000,000 messages on PostgreSQL.

    .venv/bin/python bench/reports_bench.py --database postgres://postgres@127.0.0.1:5432/chatdesk_bench_reports \
        [--conversations 100000 --messages 1000000] [--keep] [--explain] [--out [PATH]]

Creates its own database (refusing one it did not create), migrates it,
builds the history with bench/reports_data.py (server-side SQL, no ORM row
by row), runs VACUUM ANALYZE, then times the summary through the code the
API runs (`summary(parse_scope(params))`, in-process) and one HTTP request
per scope through Django's test Client with a supervisor's session. Scopes:
the whole range on all sites, one site, one agent, the last 7 days. Cold =
the first run on a new database connection (the data stays in the OS page
cache: no restart of a shared PostgreSQL); warm = median of --repeats runs.
See bench/README.md.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/chatdesk_bench_reports"
MARKER = "bench/reports_bench.py"
TARGET_S = 2.0
URL = "/api/v1/reports/summary/"


# --- the database's life -------------------------------------------------------------------

def _admin(database_url: str):
    import psycopg

    parts = urlsplit(database_url)
    return psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True), parts.path.lstrip("/")


def database_state(database_url: str) -> dict | None:
    """None when the database does not exist; else its marker comment (empty dict when it is not ours)."""
    conn, name = _admin(database_url)
    with conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                           (name,)).fetchone()
    if row is None:
        return None
    try:
        comment = json.loads(row[0] or "{}")
    except ValueError:
        comment = {}
    return comment if comment.get("built_by") == MARKER else {}


def set_marker(database_url: str, data: dict) -> None:
    conn, name = _admin(database_url)
    with conn:
        text = json.dumps({"built_by": MARKER, **data}).replace("'", "''")
        conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{text}'")


def create_database(database_url: str) -> None:
    """Create the bench's database, dropping an earlier one of ours; never touch a database we did not make."""
    state = database_state(database_url)
    conn, name = _admin(database_url)
    with conn:
        if state is not None:
            if not state:
                raise SystemExit(f"database '{name}' exists and was not created by {MARKER}: drop it or pick another name")
            conn.execute(f'DROP DATABASE "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    set_marker(database_url, {"status": "building"})


def drop_database(database_url: str) -> None:
    if database_state(database_url):
        conn, name = _admin(database_url)
        with conn:
            conn.execute(f'DROP DATABASE "{name}"')


def configure_django(database_url: str) -> None:
    """Production-like settings (DEBUG off, so no query log) on the bench database, then django.setup()."""
    os.environ.update({
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "chatdesk.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "reports-bench-secret-key-not-for-production",
        "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "CHATDESK_LOG_LEVEL": "WARNING",
    })
    os.environ.pop("REDIS_URL", None)  # the summary needs no channel layer
    import warnings

    import django

    # WhiteNoise warns about a missing collectstatic directory; the summary serves no static file.
    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()


# --- the machine -----------------------------------------------------------------------------

def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def machine() -> dict:
    from django.db import connection

    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    settings = {}
    with connection.cursor() as cur:
        for name in ("server_version", "shared_buffers", "work_mem", "effective_cache_size", "jit",
                     "max_parallel_workers_per_gather", "random_page_cost"):
            cur.execute(f"SHOW {name}")
            settings[name] = cur.fetchone()[0]
    return {"cpus": os.cpu_count(), "memory_gib": round(mem_kib / 1024 / 1024, 1),
            "python": sys.version.split()[0], "postgresql": settings}


def database_size() -> tuple[int, str]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_database_size(current_database()), pg_size_pretty(pg_database_size(current_database()))")
        return cur.fetchone()


def vacuum_analyze() -> float:
    from django.db import connection

    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    return round(time.perf_counter() - t0, 2)


# --- timing the summary -----------------------------------------------------------------------

FIGURE_FUNCTIONS = {
    "service_figures", "baseline_figures", "order_figures", "offer_figures", "recovery_figures",
    "abandonment_reasons", "intervention_figures", "scope_currency", "parse_scope",
}


def figure_of_caller() -> str:
    """Which summary function issued the query being run (walks the stack; cheap next to any query)."""
    frame = sys._getframe(2)
    label, extra = "other", ""
    while frame is not None:
        name = frame.f_code.co_name
        if "chatdesk/reports/" in frame.f_code.co_filename.replace("\\", "/"):
            if name == "percentiles":
                extra = " (percentiles)"
            if name in FIGURE_FUNCTIONS:
                label = name
            if name == "analytic_queries":
                label = "SET LOCAL jit = off"
        frame = frame.f_back
    return label + extra


class QueryClock:
    """A Django execute_wrapper: seconds per summary function, and optionally every (label, sql, params)."""

    def __init__(self, capture: bool = False):
        self.seconds: dict[str, float] = {}
        self.queries: list[tuple[str, str, object]] | None = [] if capture else None

    def __call__(self, execute, sql, params, many, context):
        label = figure_of_caller()
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - t0
            if self.queries is not None:
                self.queries.append((label, sql, params))


def run_summary(params: dict, clock: QueryClock | None = None) -> tuple[float, dict]:
    """What SummaryView.get does between parsing the request and rendering: parse the scope, compute."""
    from django.db import connection

    from chatdesk.reports.metrics import summary
    from chatdesk.reports.scope import parse_scope

    t0 = time.perf_counter()
    if clock is None:
        result = summary(parse_scope(params))
    else:
        with connection.execute_wrapper(clock):
            result = summary(parse_scope(params))
    return time.perf_counter() - t0, result


def explain(queries, threshold_s: float, log=print) -> list[dict]:
    """EXPLAIN (ANALYZE, BUFFERS) every SELECT of one summary run, with JIT off as the summary runs them."""
    from django.db import connection, transaction

    out = []
    for label, sql, params in queries:
        if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL jit = off")
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(r[0] for r in cur.fetchall())
        ms = next((float(line.split(":")[1].split()[0]) for line in plan.splitlines()
                   if line.strip().startswith("Execution Time:")), 0.0)
        out.append({"figure": label, "execution_ms": ms, "sql": sql, "plan": plan if ms >= threshold_s * 1000 else None})
        log(f"    {ms:9.1f} ms  {label}")
        if ms >= threshold_s * 1000:
            log("      " + sql[:600].replace("\n", " ") + (" ..." if len(sql) > 600 else ""))
            log("\n".join("      | " + line for line in plan.splitlines()))
    return out


def supervisor_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    from bench.reports_data import SUPERVISOR

    client = Client()
    client.force_login(get_user_model().objects.get(username=SUPERVISOR))
    return client


def default_scopes() -> list[tuple[str, dict]]:
    """The four scopes of the benchmark, from the data's own range, site and busiest agent."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count, Max, Min

    from chatdesk.models import Conversation, Site

    span = Conversation.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    first, last = span["first"].date(), span["last"].date()
    site = Site.objects.annotate(n=Count("conversations")).order_by("-n", "key").first()
    agent_id = (Conversation.objects.filter(agent__isnull=False).values("agent").annotate(n=Count("pk"))
                .order_by("-n", "agent").values_list("agent", flat=True).first())
    agent = get_user_model().objects.get(pk=agent_id)
    whole = {"from": first.isoformat(), "to": last.isoformat()}
    return [
        (f"all sites, {(last - first).days + 1} days", whole),
        (f"one site ({site.key})", {**whole, "site": site.key}),
        (f"one agent ({agent.username})", {**whole, "agent": agent.username}),
        ("all sites, last 7 days", {"from": (last - timedelta(days=6)).isoformat(), "to": last.isoformat()}),
    ]


def measure(scopes, repeats: int = 5, http_requests: int = 3, explain_threshold: float | None = None,
            log=print) -> list[dict]:
    """Cold run on a fresh connection, `repeats` warm runs, `http_requests` GETs; seconds and the figures, per scope."""
    from django.db import connections
    from django.core.serializers.json import DjangoJSONEncoder

    client = supervisor_client() if http_requests else None
    rows = []
    for name, params in scopes:
        connections.close_all()  # a new backend: no cached catalog, no prepared plans
        load_before = os.getloadavg()
        cold, result = run_summary(params)
        warm, clocks = [], []
        for _ in range(repeats):
            clock = QueryClock()
            seconds, _ = run_summary(params, clock)
            warm.append(seconds)
            clocks.append(clock.seconds)
        figures = {label: round(statistics.median(c.get(label, 0.0) for c in clocks), 4)
                   for label in sorted({k for c in clocks for k in c})}
        row = {
            "scope": name, "params": params, "conversations_in_scope": result["conversations"],
            "cold_s": round(cold, 3), "warm_median_s": round(statistics.median(warm), 3) if warm else None,
            "warm_s": [round(s, 3) for s in warm], "load_before": [round(x, 2) for x in load_before],
            "figures_warm_median_s": dict(sorted(figures.items(), key=lambda kv: -kv[1])),
            "summary": json.loads(json.dumps(result, cls=DjangoJSONEncoder)),
        }
        if client is not None:
            # The whole request: session, DRF, parse_scope, summary, JSON. A few, since one sample on a
            # shared machine says little; the median is reported.
            times, statuses, same = [], [], True
            for _ in range(http_requests):
                t0 = time.perf_counter()
                response = client.get(URL, params, secure=True)
                times.append(round(time.perf_counter() - t0, 3))
                statuses.append(response.status_code)
                same = same and response.status_code == 200 and response.json() == row["summary"]
            row["http_s"] = round(statistics.median(times), 3)
            row["http_each_s"] = times
            row["http_status"] = max(statuses)
            row["http_matches_in_process"] = same
        slowest = max(row["cold_s"], row["warm_median_s"] or 0, row.get("http_s", 0))
        row["under_target"] = slowest < TARGET_S
        log(f"  {name:<28} cold {row['cold_s']:6.2f} s   warm median {row['warm_median_s'] or 0:6.2f} s"
            + (f"   HTTP {row['http_s']:6.2f} s ({row['http_status']})" if client is not None else "")
            + f"   load {row['load_before'][0]:.2f}")
        if explain_threshold is not None:
            clock = QueryClock(capture=True)
            run_summary(params, clock)
            row["explain"] = explain(clock.queries, explain_threshold, log=log)
        rows.append(row)
    return rows


# --- output ------------------------------------------------------------------------------------

def table(rows) -> str:
    # The warm minimum shows the floor on a shared machine, where one run in five can be slowed by others.
    lines = [f"| scope | conversations | cold s | warm median s (of {len(rows[0]['warm_s'])}) | warm min s "
             "| HTTP median s | under 2 s | load (1 min) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for r in rows:
        cells = [r["scope"], f"{r['conversations_in_scope']:,}", f"{r['cold_s']:.2f}", f"{r['warm_median_s']:.2f}",
                 f"{min(r['warm_s']):.2f}", f"{r.get('http_s', float('nan')):.2f}",
                 "yes" if r["under_target"] else "NO", f"{r['load_before'][0]:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figures_table(rows) -> str:
    labels = []
    for r in rows:
        for label in r["figures_warm_median_s"]:
            if label not in labels:
                labels.append(label)
    lines = ["| summary part | " + " | ".join(r["scope"] for r in rows) + " |", "| --- |" + " ---: |" * len(rows)]
    for label in labels:
        seconds = [f"{r['figures_warm_median_s'].get(label, 0):.3f}" for r in rows]
        lines.append(f"| {label} | " + " | ".join(seconds) + " |")
    return "\n".join(lines)


def markdown(report: dict) -> str:
    m, d, rows = report["machine"], report["data"], report["scopes"]
    pg, whole = m["postgresql"], rows[0]["summary"]
    counts = "\n".join(f"| {t} | {n:,} |" for t, n in d["counts"].items())
    http_n = len(rows[0].get("http_each_s", [])) or "no"
    same = all(r.get("http_matches_in_process", True) for r in rows)
    return f"""# Reports summary benchmark, {report['date']}

`{report['command']}`

Machine: {m['cpus']} cores, {m['memory_gib']} GiB, PostgreSQL {pg['server_version']} with default settings
(shared_buffers {pg['shared_buffers']}, work_mem {pg['work_mem']}, jit {pg['jit']}; the summary turns JIT off for
its own queries). The machine is shared with other work: `uptime` at the start: `{report['load']['start']}`;
at the end: `{report['load']['end']}`.

Cold = first run on a new database connection (the data is in the OS page cache); warm = median of
{report['repeats']} runs, in-process through `summary(parse_scope(params))`, the code the API runs; HTTP = median
of {http_n} GETs of `{URL}` through Django's test Client with a supervisor's session (the JSON equals the
in-process result: {'yes' if same else 'NO'}).

## Times (target: under {TARGET_S:.0f} s)

{table(rows)}

Seconds per part of the summary (warm median):

{figures_table(rows)}

## The data

{d['params']['conversations']:,} conversations over {d['params']['days']} days ({d['start'][:10]} to {d['end'][:10]}),
{d['params']['sites']} sites, {d['params']['agents']} agents. Built in {d['build_s']:.1f} s (+ migrate
{d['migrate_s']:.1f} s, VACUUM ANALYZE {d['vacuum_analyze_s']:.1f} s); database size {d['db_size']}.

| table | rows |
| --- | ---: |
{counts}

Whole-range figures (all sites): conversations {whole['conversations']:,}, missed rate {whole['missed_rate']},
wait p50 / p90 {whole['wait_p50_s']} / {whole['wait_p90_s']} s, first response p50 / p90
{whole['first_response_p50_s']} / {whole['first_response_p90_s']} s, CSAT {whole['csat']}, chat conversion
{whole['chat_conversion_rate']}, baseline conversion {whole['baseline_conversion_rate']}, attributed orders
{whole['attributed_orders']:,}, offers made / accepted {whole['offers_made']:,} / {whole['offers_accepted']:,},
abandoned carts {whole['abandoned_carts']:,}, contacted {whole['contacted_carts']:,}, recovered
{whole['recovered_carts']:,}, intervention treatment / holdout {whole['intervention']['treatment']:,} /
{whole['intervention']['holdout']:,}.
"""


def default_out() -> Path:
    return ROOT / "bench" / "results" / date.today().isoformat() / "reports.json"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=DEFAULT_DATABASE, help=f"its own database (default {DEFAULT_DATABASE})")
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--visitors-per-conversation", type=int, default=4)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--seed", type=float, default=0.42)
    parser.add_argument("--repeats", type=int, default=5, help="warm runs per scope (median reported)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the database afterwards, and reuse it when it holds data of the same sizes")
    parser.add_argument("--http-requests", type=int, default=3,
                        help="GETs of the API per scope through Django's test Client (median reported; 0: none)")
    parser.add_argument("--explain", nargs="?", type=float, const=0.25, default=None, metavar="SECONDS",
                        help="EXPLAIN ANALYZE every query of each scope; print plans of those over SECONDS (0.25)")
    parser.add_argument("--out", nargs="?", const=str(default_out()), default=None, metavar="PATH",
                        help=f"write JSON there and a Markdown table beside it (default {default_out().relative_to(ROOT)})")
    args = parser.parse_args(argv)

    wanted = {"conversations": args.conversations, "messages": args.messages, "days": args.days,
              "visitors_per_conversation": args.visitors_per_conversation, "agents": args.agents, "seed": args.seed,
              # Data built by another version of the builder is not reused.
              "builder": hashlib.sha1((ROOT / "bench" / "reports_data.py").read_bytes()).hexdigest()[:12]}
    load_start = uptime()
    print(f"uptime: {load_start}")
    state = database_state(args.database)
    reuse = bool(args.keep and state and state.get("status") == "built" and state.get("params") == wanted)
    if not reuse:
        create_database(args.database)
    configure_django(args.database)

    from django.core.management import call_command
    from django.db import connections

    from bench import reports_data

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    migrate_s = round(time.perf_counter() - t0, 2)
    if reuse:
        print(f"reusing {urlsplit(args.database).path.lstrip('/')} (built {state['built_at']}); migrate {migrate_s} s")
        built = state["build"]
    else:
        print(f"building {args.conversations:,} conversations and {args.messages:,} messages ...")
        built = reports_data.build(conversations=args.conversations, messages=args.messages, days=args.days,
                                   visitors_per_conversation=args.visitors_per_conversation, agents=args.agents,
                                   seed=args.seed)
        for name, seconds in built["timings_s"].items():
            print(f"  {seconds:7.2f} s  {name}")
        for note in built["notes"]:
            print(f"  note: {note}")
        built["vacuum_analyze_s"] = vacuum_analyze()
        built["build_s"] = round(sum(built["timings_s"].values()), 2)
        print(f"  build {built['build_s']:.1f} s, VACUUM ANALYZE {built['vacuum_analyze_s']:.1f} s")
        connections.close_all()
        set_marker(args.database, {"status": "built", "params": wanted, "build": built,
                                   "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    t0 = time.perf_counter()
    violations = reports_data.check()
    check_s = round(time.perf_counter() - t0, 2)
    broken = {k: v for k, v in violations.items() if v}
    print(f"consistency ({len(violations)} rules, {check_s} s): " + ("all hold" if not broken else f"BROKEN {broken}"))
    size_bytes, size = database_size()
    print(f"database size {size}")
    for table_name, n in built["counts"].items():
        print(f"  {n:>10,}  {table_name}")

    print("timing the summary:")
    rows = measure(default_scopes(), repeats=args.repeats, http_requests=args.http_requests,
                   explain_threshold=args.explain)
    report = {
        "date": date.today().isoformat(),
        "command": "python bench/reports_bench.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "target_s": TARGET_S, "repeats": args.repeats,
        "machine": machine(),
        "load": {"start": load_start, "end": uptime()},
        "data": {**{k: v for k, v in built.items() if k != "timings_s"}, "build_timings_s": built["timings_s"],
                 "migrate_s": migrate_s, "consistency_violations": violations, "db_size_bytes": size_bytes, "db_size": size, "reused": reuse,
                 "shape": reports_data.shape()},
        "scopes": rows,
        "all_under_target": all(r["under_target"] for r in rows),
    }
    print()
    print(table(rows))
    print()
    print(figures_table(rows))
    print(f"\nuptime: {report['load']['end']}")
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        out.with_suffix(".md").write_text(markdown(report))
        print(f"wrote {out} and {out.with_suffix('.md')}")
    connections.close_all()
    if not args.keep:
        drop_database(args.database)
    return 0 if report["all_under_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
