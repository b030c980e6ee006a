"""The five scenarios of issue 9, each returning a JSON-ready dict of what it measured."""
from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections import Counter

from . import db, profiling
from .loadgen import Pair, Sock, Tracker, Traffic, gather_limited, now_ns, settle
from .servers import start_servers, stop_servers

SITE = "demo-store"


# ---------------------------------------------------------------- set-up


async def chatdesk_pairs(servers, tracker: Tracker, conversations: int, agents: int, cookies: dict) -> tuple[list[Pair], list[Sock]]:
    """Shoppers say hello, send a cart and a first message; agents connect and claim them (the real protocol)."""
    names = db.agent_names(agents)

    async def shopper(i):
        server = servers[i % len(servers)]
        s = await Sock.open(f"{server.ws_url}/ws/widget/{SITE}/", tracker, "shopper")
        await s.send({"type": "hello", "visitor_token": None, "last_seq": 0})
        await s.expect("welcome")
        await s.send({"type": "cart", "cart": {
            "cart_token": f"bench-cart-{i}", "currency": "USD", "checkout_step": "shipping",
            "items": [{"sku": "TEE-1", "name": "Organic cotton tee", "quantity": 2, "unit_price": "19.99"}]}})
        await s.send({"type": "message", "client_id": f"setup-{i}", "text": "hello, anyone there?"})
        ack = await s.expect("ack", client_id=f"setup-{i}")
        return s, ack["message"]["conversation_id"]

    shoppers = await gather_limited([shopper(i) for i in range(conversations)], 20)

    async def agent(j):
        server = servers[(j + 1) % len(servers)]  # agents sit on the other process: deliveries cross Redis
        a = await Sock.open(f"{server.ws_url}/ws/console/", tracker, "agent", cookie=cookies[names[j]])
        await a.expect("state")
        return a

    agent_socks = await gather_limited([agent(j) for j in range(agents)], 10)
    pairs = [Pair(i, s, agent_socks[i % agents], cid) for i, (s, cid) in enumerate(shoppers)]

    async def claims(j):
        for p in pairs[j::agents]:
            await p.agent.send({"type": "claim", "conversation_id": p.conversation_id})
            await p.agent.expect("detail", timeout=60)

    await asyncio.gather(*(claims(j) for j in range(agents)))
    await asyncio.sleep(1.0)
    for s in [p.shopper for p in pairs] + agent_socks:
        s.quiet()
    return pairs, agent_socks


async def relay_pairs(servers, tracker: Tracker, conversations: int, agents: int) -> tuple[list[Pair], list[Sock]]:
    """The same shape on the bare relay: each conversation a room, each agent in the rooms of its conversations."""
    shoppers = await gather_limited([
        Sock.open(f"{servers[i % len(servers)].ws_url}/ws/relay/?rooms={i}", tracker, "shopper")
        for i in range(conversations)], 20)
    agent_socks = await gather_limited([
        Sock.open(f"{servers[(j + 1) % len(servers)].ws_url}/ws/relay/?rooms="
                  + ",".join(str(i) for i in range(j, conversations, agents)), tracker, "agent")
        for j in range(agents)], 10)
    await asyncio.sleep(0.5)
    pairs = [Pair(i, s, agent_socks[i % agents]) for i, s in enumerate(shoppers)]
    for s in shoppers + agent_socks:
        s.quiet()
    return pairs, agent_socks


async def close_all(socks) -> None:
    await asyncio.gather(*(s.close() for s in socks), return_exceptions=True)


class Setup:
    """Servers plus connected pairs for one system in one configuration."""

    def __init__(self, cfg, system: str, conversations: int, agents: int):
        self.cfg, self.system, self.conversations, self.agents = cfg, system, conversations, agents

    async def __aenter__(self):
        cfg = self.cfg
        db.reset()
        db.flush_redis(cfg.redis_url)
        self.servers = start_servers(cfg.server, cfg.processes, cfg.env)
        self.tracker = Tracker()
        t = time.monotonic()
        try:
            if self.system == "chatdesk":
                cookies = db.session_cookies(db.agent_names(self.agents))
                self.pairs, self.agent_socks = await chatdesk_pairs(self.servers, self.tracker, self.conversations, self.agents, cookies)
            else:
                self.pairs, self.agent_socks = await relay_pairs(self.servers, self.tracker, self.conversations, self.agents)
        except BaseException:
            stop_servers(self.servers)
            raise
        # Claims and new conversations broadcast the whole queue to every agent and waiting shopper;
        # measure chat traffic only once those have drained.
        self.settle_seconds = round(await settle(self.tracker), 1)
        self.setup_seconds = round(time.monotonic() - t, 1)
        self.traffic = Traffic(self.system, self.pairs, self.agent_socks, self.tracker)
        return self

    async def __aexit__(self, *exc):
        await close_all([p.shopper for p in self.pairs] + self.agent_socks)
        stop_servers(self.servers)


# ---------------------------------------------------------------- scenarios


async def idle_memory(cfg, system: str, sockets: int) -> dict:
    """Scenario 1: resident memory per idle socket (after `welcome`) beyond the idle process."""
    db.reset()
    db.flush_redis(cfg.redis_url)
    servers = start_servers(cfg.server, 1, cfg.env)
    server = servers[0]
    tracker = Tracker()
    path = f"/ws/widget/{SITE}/" if system == "chatdesk" else "/ws/relay/?rooms=idle"

    async def one(i):
        s = await Sock.open(server.ws_url + (path if system == "chatdesk" else f"/ws/relay/?rooms=idle{i}"), tracker, "shopper")
        if system == "chatdesk":
            await s.send({"type": "hello", "visitor_token": None, "last_seq": 0})
            await s.expect("welcome")
        s.quiet()
        return s

    try:
        # Warm up: the first sockets import code, open the database and Redis connections.
        warm = await gather_limited([one(i) for i in range(50)], 25)
        await close_all(warm)
        await asyncio.sleep(2)
        base = server.rss_kib()
        t = time.monotonic()
        socks = await gather_limited([one(i) for i in range(sockets)], 25)
        connect_s = time.monotonic() - t
        await asyncio.sleep(3)
        gc.collect()
        loaded = server.rss_kib()
        await close_all(socks)
    finally:
        stop_servers(servers)
    return {
        "system": system, "sockets": sockets, "idle_process_kib": base, "loaded_process_kib": loaded,
        "connect_retries": tracker.other_frames.get("connect_retry", 0),
        "kib_per_socket": round((loaded - base) / sockets, 1), "kb_per_socket": round((loaded - base) * 1.024 / sockets, 1),
        "connect_seconds": round(connect_s, 1),
    }


async def steady(cfg, system: str, conversations: int, agents: int, rate: float, seconds: float,
                 profile_dir=None) -> dict:
    """Scenario 2: a steady offered rate over claimed conversations; latency, loss and duplicates counted."""
    async with Setup(cfg, system, conversations, agents) as s:
        profilers = [profiling.start(srv, profile_dir, f"{system}-{i}") for i, srv in enumerate(s.servers)] if profile_dir else []
        offered = await s.traffic.offer(rate, seconds, step=0)
        profiles = [profiling.stop(p) for p in profilers]
        drained = await s.traffic.drain(0, timeout=10)
        out = {"system": system, "conversations": conversations, "agents": agents, "seconds": seconds,
               "setup_seconds": s.setup_seconds, "settle_seconds": s.settle_seconds, **offered, **s.tracker.summary(0, seconds),
               "drain_seconds": round(drained, 2), "out_of_order": s.tracker.out_of_order,
               "other_frames": dict(s.tracker.other_frames)}
        if profiles:
            out["profiles"] = profiles
        if system == "chatdesk":
            out["seq_check"] = seq_check([p.conversation_id for p in s.pairs])
    return out


def seq_check(conversation_ids) -> dict:
    """Stored seqs per conversation must be exactly 1..n (gap-free, no repeats)."""
    stored = db.stored_sequences(conversation_ids)
    bad = [cid for cid, seqs in stored.items() if seqs != list(range(1, len(seqs) + 1))]
    return {"conversations": len(stored), "messages": sum(len(v) for v in stored.values()), "gapped": len(bad)}


async def saturation(cfg, system: str, conversations: int, agents: int, start: float, factor: float,
                     step_seconds: float, limit_p99_ms: float = 250.0, max_rate: float = 6000) -> dict:
    """Scenario 3: raise the offered rate step by step until p99 passes the limit (or messages are lost)."""
    steps = []
    async with Setup(cfg, system, conversations, agents) as s:
        rate, step = start, 0
        while rate <= max_rate:
            step += 1
            offered = await s.traffic.offer(rate, step_seconds, step)
            drained = await s.traffic.drain(step, timeout=5)
            summary = {**offered, **s.tracker.summary(step, step_seconds), "drain_seconds": round(drained, 2)}
            steps.append(summary)
            print(f"    {system:8s} offered {rate:7.0f}/s delivered {summary['delivered_per_s']:7.1f}/s "
                  f"p50 {summary['p50_ms']} p99 {summary['p99_ms']} lost {summary['lost']} refused {summary['refused']}",
                  flush=True)
            over = (summary["p99_ms"] or 1e9) > limit_p99_ms or summary["lost"] or summary["refused"]
            if over or summary["sent_per_s"] < 0.9 * rate:
                break
            rate = round(rate * factor)
            await asyncio.sleep(0.5)
    ok = [x for x in steps if (x["p99_ms"] or 1e9) <= limit_p99_ms and not x["lost"] and not x["refused"]]
    best = max(ok, key=lambda x: x["delivered_per_s"]) if ok else None
    return {"system": system, "steps": steps, "max_rate": best["offered_per_s"] if best else 0,
            "max_delivered_per_s": best["delivered_per_s"] if best else 0, "limit_p99_ms": limit_p99_ms,
            "generator_limited": bool(steps and steps[-1]["sent_per_s"] < 0.9 * steps[-1]["offered_per_s"])}


async def reconnect_storm(cfg, shoppers: int, agents: int, profile_dir=None) -> dict:
    """Scenario 4: shoppers in open conversations drop at once, agents keep writing, all reconnect with resume."""
    db.reset()
    db.flush_redis(cfg.redis_url)
    names = db.agent_names(agents)
    seeded = db.bulk_conversations(shoppers, "active", names, messages=2)
    cookies = db.session_cookies(names)
    servers = start_servers(cfg.server, cfg.processes, cfg.env)
    tracker = Tracker()
    try:
        agent_socks = {}
        for j, name in enumerate(names):
            a = await Sock.open(f"{servers[(j + 1) % len(servers)].ws_url}/ws/console/", tracker, "agent", cookie=cookies[name])
            await a.expect("state", timeout=60)
            a.quiet()
            agent_socks[name] = a

        async def hello(i, last_seq):
            s = await Sock.open(f"{servers[i % len(servers)].ws_url}/ws/widget/{SITE}/", tracker, "shopper")
            await s.send({"type": "hello", "visitor_token": seeded[i]["token"], "last_seq": last_seq})
            await s.expect("welcome", timeout=60)
            s.quiet()
            return s

        first = await gather_limited([hello(i, 0) for i in range(shoppers)], 50)
        seen = [set(s.seqs) for s in first]
        for s in first:
            s.abort()
        await asyncio.sleep(0.5)

        async def agents_write(tag: str):
            async def one_agent(name):
                sock = agent_socks[name]
                for i, conv in enumerate(seeded):
                    if conv["agent"] != name:
                        continue
                    cid = f"{tag}-{conv['conversation_id']}"
                    await sock.send({"type": "message", "conversation_id": conv["conversation_id"], "client_id": cid,
                                     "text": f"{tag} for {i}"})
                    await asyncio.sleep(1 / 15)  # under the console's 20 frames/s
            await asyncio.gather(*(one_agent(n) for n in names))

        t_away = time.monotonic()
        await agents_write("away")  # while every shopper is offline
        away_seconds = time.monotonic() - t_away
        await asyncio.sleep(0.5)

        storm_start = time.monotonic()
        cpu_start = time.process_time()
        servers_cpu_start = [srv.cpu_seconds() for srv in servers]
        welcome_at = [None] * shoppers

        async def back(i):
            s = await hello(i, max(seen[i]))
            welcome_at[i] = time.monotonic() - storm_start
            return s

        profilers = [profiling.start(srv, profile_dir, f"storm-{i}") for i, srv in enumerate(servers)] if profile_dir else []
        writer = asyncio.create_task(agents_write("storm"))  # and while they come back
        second = await asyncio.gather(*(back(i) for i in range(shoppers)), return_exceptions=True)
        all_back = time.monotonic() - storm_start
        # If this nears all_back, the generator itself (one Python process) paced the storm.
        generator_cpu = time.process_time() - cpu_start
        servers_cpu = [round(srv.cpu_seconds() - c, 2) for srv, c in zip(servers, servers_cpu_start)]
        profiles = [profiling.stop(p) for p in profilers]
        await writer
        # Agents' messages may still be in a busy server's queue: count only once each got its answer.
        answers = 2 * shoppers
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(a.counts["ack"] + a.counts["error"] for a in agent_socks.values()) < answers:
            await asyncio.sleep(0.25)
        refused = sum(a.counts["error"] for a in agent_socks.values())
        refusals = Counter()
        for a in agent_socks.values():
            refusals.update({k[6:]: v for k, v in a.counts.items() if k.startswith("error:")})
        failed = sum(1 for s in second if isinstance(s, BaseException))
        final = db.stored_sequences([c["conversation_id"] for c in seeded])

        def missing() -> int:
            n = 0
            for i, s in enumerate(second):
                if not isinstance(s, BaseException):
                    n += len(set(final[seeded[i]["conversation_id"]]) - (seen[i] | s.seqs))
            return n

        # Live deliveries may trail a busy process: wait up to 30 s for every
        # stored seq to reach its shopper; what never arrives is lost.
        deadline = time.monotonic() + 30
        while missing() and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
        all_seen = time.monotonic() - storm_start
        lost = missing()
        times = sorted(t for t in welcome_at if t is not None)
        await close_all([s for s in second if not isinstance(s, BaseException)] + list(agent_socks.values()))
    finally:
        stop_servers(servers)
    return {
        "shoppers": shoppers, "agents": agents, "processes": cfg.processes,
        "away_messages_seconds": round(away_seconds, 1),
        "all_resumed_seconds": round(all_back, 2), "all_messages_seen_seconds": round(all_seen, 2),
        "generator_cpu_seconds": round(generator_cpu, 2), "server_cpu_seconds": servers_cpu, "resume_p50_s": round(statistics.median(times), 2) if times else None,
        "resume_max_s": round(times[-1], 2) if times else None, "failed_reconnects": failed,
        "lost_messages": lost, "messages_checked": sum(len(v) for v in final.values()),
        "agent_messages_refused": refused, "agent_refusals": dict(refusals),
        **({"profiles": profiles} if profilers else {}),
    }


async def console_start(cfg, queued: int, repeats: int = 5) -> dict:
    """Scenario 5: an agent opens the console while `queued` conversations wait; time to `state`."""
    db.reset()
    db.flush_redis(cfg.redis_url)
    db.bulk_conversations(queued, "queued", messages=1)
    cookie = db.session_cookies(["alice"])["alice"]
    servers = start_servers(cfg.server, 1, cfg.env)
    tracker = Tracker()
    times, sizes = [], []
    try:
        for _ in range(repeats + 1):  # the first one warms the process up and is not counted
            t = now_ns()
            a = await Sock.open(f"{servers[0].ws_url}/ws/console/", tracker, "agent", cookie=cookie)
            state = await a.expect("state", timeout=60)
            times.append((now_ns() - t) / 1e6)
            sizes.append(len(state["queue"]))
            await a.close()
            await asyncio.sleep(0.3)
    finally:
        stop_servers(servers)
    counted = times[1:]
    return {"queued": queued, "queue_in_state": sizes[-1], "repeats": repeats,
            "state_ms_median": round(statistics.median(counted), 1), "state_ms_max": round(max(counted), 1),
            "cold_ms": round(times[0], 1)}
