"""Run the websocket benchmark: `python bench/run.py --all` (see bench/README.md for every option)."""
from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import db, report, scenarios  # noqa: E402

SCENARIOS = ("idle", "steady", "saturation", "storm", "console")


@dataclass
class Config:
    server: str  # daphne | uvicorn
    layer: str  # redis | pubsub
    processes: int
    redis_url: str
    env: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.server}+{'RedisChannelLayer' if self.layer == 'redis' else 'RedisPubSubChannelLayer'}×{self.processes}"


def raise_fd_limit() -> int:
    """5,000 sockets need 5,000 descriptors on each side; children inherit the raised limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def machine() -> dict:
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            return ""

    from django.db import connection
    import redis as redis_py

    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg = cur.fetchone()[0]
    r = redis_py.Redis.from_url(os.environ["REDIS_URL"])
    redis_version = r.info("server")["redis_version"]
    r.close()
    cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
    mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    import channels, channels_redis, daphne, django, uvicorn, websockets  # noqa: E401

    info = {
        "nproc": int(sh("nproc") or os.cpu_count()), "memory_gib": mem_gib, "cpu": cpu,
        "kernel": platform.release(), "python": platform.python_version(), "postgres": pg, "redis": redis_version,
        "django": django.__version__, "channels": channels.__version__, "channels_redis": channels_redis.__version__,
        "daphne": daphne.__version__, "uvicorn": uvicorn.__version__, "websockets": websockets.__version__,
    }
    info["short"] = f"{info['nproc']} cores, {mem_gib} GiB"
    info["description"] = (f"{info['nproc']} cores (`nproc`), {mem_gib} GiB RAM, {cpu}; Linux {info['kernel']}; "
                           f"Python {info['python']}, PostgreSQL {pg}, Redis {redis_version}; Django {info['django']}, "
                           f"Channels {info['channels']}, channels-redis {info['channels_redis']}, Daphne {info['daphne']}, "
                           f"uvicorn {info['uvicorn']}, websockets {info['websockets']}. Generator, servers, PostgreSQL "
                           f"and Redis all on this machine.")
    return info


def config(base_env: dict, redis_url: str, server: str, layer: str, processes: int) -> Config:
    env = dict(os.environ)
    env.update(base_env)
    env["CHATDESK_CHANNEL_LAYER"] = layer
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # only the runner's own set-up calls are sync-in-async
    return Config(server, layer, processes, redis_url, env)


async def main_async(args, base_env) -> dict:
    results: dict = {"scenarios": {}, "notes": []}
    s = results["scenarios"]
    chosen = SCENARIOS if args.all else tuple(args.scenario or ())
    quick = args.smoke
    k = args.processes
    default = config(base_env, args.redis_url, args.server, args.layer, k)

    results["load"] = {"start": os.getloadavg()}
    if "idle" in chosen:
        n = 50 if quick else args.idle_sockets
        print(f"[1] idle: {n} sockets on one Daphne process", flush=True)
        one = config(base_env, args.redis_url, args.server, args.layer, 1)
        s["idle"] = {"config": one.name}
        for system in ("chatdesk", "relay"):
            s["idle"][system] = await scenarios.idle_memory(one, system, n)
            print(f"    {system}: {s['idle'][system]}", flush=True)

    if "steady" in chosen:
        conv, agents = (4, 2) if quick else (args.conversations, args.agents)
        rate, secs = (20, 2) if quick else (args.steady_rate, args.steady_seconds)
        both = args.all or args.steady_both_layers
        layers = [args.layer] + ([{"redis": "pubsub", "pubsub": "redis"}[args.layer]] if both else [])
        for layer in layers:
            cfg = config(base_env, args.redis_url, args.server, layer, k)
            key = "steady" if layer == args.layer else f"steady_{layer}"
            print(f"[2] steady: {rate}/s for {secs}s over {conv} conversations, {cfg.name}", flush=True)
            s[key] = {"config": cfg.name}
            for system in ("chatdesk", "relay"):
                profile_dir = (out_dir(args) / "profiles" / layer) if args.profile else None
                s[key][system] = await scenarios.steady(cfg, system, conv, agents, rate, secs, profile_dir)
                print(f"    {system}: {json.dumps(s[key][system])}", flush=True)
        results["load"]["after_steady"] = os.getloadavg()

    if "saturation" in chosen:
        print("[3] saturation", flush=True)
        runs = []
        servers = ("daphne", "uvicorn") if not quick else ("daphne",)
        layers = ("redis", "pubsub") if not quick else (args.layer,)
        pairs = [(sv, ly) for sv in servers for ly in layers]
        if args.sat_config:
            pairs = [tuple(c.split("/")) for c in args.sat_config]
        conv, agents = (4, 2) if quick else (args.conversations, args.agents)
        for server, layer in pairs:
            cfg = config(base_env, args.redis_url, server, layer, k)
            systems = ["relay"]
            if server == "daphne" or args.chatdesk_uvicorn:
                systems.insert(0, "chatdesk")
            systems = [x for x in systems if x in (args.system or systems)]
            for system in systems:
                print(f"  {system} on {cfg.name}", flush=True)
                out = await scenarios.saturation(
                    cfg, system, conv, agents, start=20 if quick else args.sat_start, factor=args.sat_factor,
                    step_seconds=1 if quick else args.sat_step_seconds, max_rate=40 if quick else 6000)
                out["config"] = cfg.name
                runs.append(out)
        ratios = []
        for cfg_name in sorted({r["config"] for r in runs}):
            by = {r["system"]: r for r in runs if r["config"] == cfg_name}
            if "chatdesk" in by and "relay" in by and by["relay"]["max_delivered_per_s"]:
                ratios.append({"config": cfg_name, "chatdesk": by["chatdesk"]["max_delivered_per_s"],
                               "relay": by["relay"]["max_delivered_per_s"],
                               "ratio": by["chatdesk"]["max_delivered_per_s"] / by["relay"]["max_delivered_per_s"]})
        relays = [r for r in runs if r["system"] == "relay"]
        cds = [r for r in runs if r["system"] == "chatdesk"]
        sat = {"runs": runs, "ratios": ratios}
        if relays:
            f = max(relays, key=lambda r: r["max_delivered_per_s"])
            sat["fastest_relay"] = {"config": f["config"], "rate": f["max_delivered_per_s"]}
        if cds:
            b = max(cds, key=lambda r: r["max_delivered_per_s"])
            sat["chatdesk_best"] = {"config": b["config"], "rate": b["max_delivered_per_s"]}
        s["saturation"] = sat
        results["load"]["after_saturation"] = os.getloadavg()

    if "storm" in chosen:
        n = 20 if quick else args.storm_shoppers
        agents = 2 if quick else args.agents
        print(f"[4] reconnect storm: {n} shoppers on {default.name}", flush=True)
        profile_dir = (out_dir(args) / "profiles" / "storm") if args.profile else None
        s["storm"] = await scenarios.reconnect_storm(default, n, agents, profile_dir)
        s["storm"]["config"] = default.name
        print(f"    {s['storm']}", flush=True)

    if "console" in chosen:
        n = 50 if quick else args.console_queued
        print(f"[5] console start with {n} queued", flush=True)
        one = config(base_env, args.redis_url, args.server, args.layer, 1)
        s["console"] = await scenarios.console_start(one, n, repeats=2 if quick else 5)
        s["console"]["config"] = one.name
        print(f"    {s['console']}", flush=True)
    results["load"]["end"] = os.getloadavg()
    return results


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--all", action="store_true", help="every scenario (about 15 minutes)")
    p.add_argument("--scenario", action="append", choices=SCENARIOS, help="run one scenario (repeatable)")
    p.add_argument("--smoke", action="store_true", help="tiny N, a few seconds: checks that messages arrive")
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", db.BENCH_DATABASE_URL))
    p.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", db.BENCH_REDIS_URL))
    p.add_argument("--prefix", default=db.BENCH_PREFIX, help="channel layer prefix")
    p.add_argument("--no-flush-redis", action="store_true", help="never FLUSHDB the Redis db (shared db: use a prefix)")
    p.add_argument("--drop-database", action="store_true", help="drop the bench database at the end")
    p.add_argument("--layer", choices=("redis", "pubsub"), default="redis", help="ChatDesk's channel layer for scenarios 1, 2, 4, 5")
    p.add_argument("--server", choices=("daphne", "uvicorn"), default="daphne", help="the ASGI server for scenarios 1, 2, 4, 5")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--conversations", type=int, default=200)
    p.add_argument("--steady-rate", type=float, default=200)
    p.add_argument("--steady-seconds", type=float, default=60)
    p.add_argument("--steady-both-layers", action="store_true", help="steady chat on both channel layers (--all does)")
    p.add_argument("--sat-start", type=float, default=150)
    p.add_argument("--sat-factor", type=float, default=1.25)
    p.add_argument("--sat-step-seconds", type=float, default=6)
    p.add_argument("--sat-config", action="append", choices=("daphne/redis", "daphne/pubsub", "uvicorn/redis", "uvicorn/pubsub"),
                   help="saturate only this server/layer (repeatable; default: all four)")
    p.add_argument("--system", action="append", choices=("chatdesk", "relay"),
                   help="saturate only this system (repeatable; default: both); ratios need both")
    p.add_argument("--chatdesk-uvicorn", action="store_true", help="also saturate ChatDesk under uvicorn")
    p.add_argument("--idle-sockets", type=int, default=5000)
    p.add_argument("--storm-shoppers", type=int, default=2000)
    p.add_argument("--console-queued", type=int, default=2000)
    p.add_argument("--out", default=None, help="results folder (default bench/results/<date>; smoke: none)")
    p.add_argument("--profile", action="store_true", help="py-spy every server process during the steady scenario and the storm's reconnects")
    p.add_argument("--json", default=None, help="also write the raw results JSON here")
    args = p.parse_args(argv)
    if not args.all and not args.scenario and not args.smoke:
        p.error("give --all, --smoke or --scenario NAME")
    if args.smoke and not args.scenario:
        args.scenario = ["steady", "saturation"]
    return args


def out_dir(args) -> Path:
    return Path(args.out) if args.out else ROOT / "bench" / "results" / datetime.date.today().isoformat()


def main(argv=None) -> int:
    args = parse_args(argv)
    fds = raise_fd_limit()
    started = time.monotonic()
    db.ensure_database(args.database_url)
    base_env = db.configure(args.database_url, args.redis_url, args.prefix, args.layer)
    if args.no_flush_redis:
        db.flush_redis = lambda url: None  # a shared Redis db: the prefix keeps us apart
    db.migrate_and_seed(agents=max(args.agents, 2), capacity=10)
    # The runner resets and seeds the database between load phases, never while its sockets are busy.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        results = asyncio.run(main_async(args, base_env))
    finally:
        if args.drop_database:
            from django.db import connection

            connection.close()
            db.drop_database(args.database_url)
    results["date"] = datetime.date.today().isoformat()
    results["command"] = "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results["wall_seconds"] = time.monotonic() - started
    results["fd_limit"] = fds
    if not args.drop_database:
        results["machine"] = machine()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    if not args.smoke:
        out = out_dir(args)
        report.write(results, out)
        print(f"results in {out}", flush=True)
        print((out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
