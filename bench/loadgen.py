"""The load generator: shoppers and agents (or relay sockets) over real websockets, and what they measured.

Every benchmark message carries its id and its send time in its text
(`bench|<id>|<seconds.nanoseconds>|...`), so the receiving socket computes the
delivery latency from the text alone and the tracker counts every delivery:
a message never delivered is lost, a second delivery is a duplicate.
"""
from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import orjson
import websockets

ORIGIN = "http://localhost:8000"
PAD = "is the organic cotton tee in stock in medium?"


def now_ns() -> int:
    return time.monotonic_ns()


def bench_text(mid: int, t_ns: int) -> str:
    # Seconds and nanoseconds apart: no run of 13+ digits, so card masking leaves it alone.
    return f"bench|{mid}|{t_ns // 1_000_000_000}.{t_ns % 1_000_000_000:09d}|{PAD}"


def parse_bench_text(text: str):
    if not text.startswith("bench|"):
        return None
    _, mid, stamp, _ = text.split("|", 3)
    secs, nanos = stamp.split(".")
    return int(mid), int(secs) * 1_000_000_000 + int(nanos)


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(q / 100 * (len(sorted_values) - 1)))))
    return sorted_values[k]


@dataclass
class Sent:
    step: int
    t_ns: int
    conversation: int
    direction: str  # "to_agent" or "to_shopper"
    deliveries: int = 0
    latency_ms: float | None = None
    ack_ms: float | None = None
    refused: str | None = None


@dataclass
class Tracker:
    """Every benchmark message sent, and each of its deliveries."""

    sent: dict[int, Sent] = field(default_factory=dict)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    out_of_order: int = 0
    frames_seen: int = 0
    stray: int = 0
    other_frames: Counter = field(default_factory=Counter)

    def new(self, step: int, conversation: int, direction: str) -> tuple[int, str]:
        mid = next(self.ids)
        t = now_ns()
        self.sent[mid] = Sent(step, t, conversation, direction)
        return mid, bench_text(mid, t)

    def delivered(self, text: str, at_ns: int) -> None:
        parsed = parse_bench_text(text)
        if parsed is None:
            return
        mid, t = parsed
        rec = self.sent.get(mid)
        if rec is None:
            self.stray += 1
            return
        rec.deliveries += 1
        if rec.deliveries == 1:
            rec.latency_ms = (at_ns - t) / 1e6

    def acked(self, client_id: str, at_ns: int) -> None:
        rec = self.sent.get(_mid(client_id))
        if rec is not None and rec.ack_ms is None:
            rec.ack_ms = (at_ns - rec.t_ns) / 1e6

    def refused(self, client_id: str | None, code: str) -> None:
        rec = self.sent.get(_mid(client_id)) if client_id else None
        if rec is not None:
            rec.refused = code
        self.other_frames["error:" + code] += 1

    def pending(self, step: int) -> int:
        return sum(1 for r in self.sent.values() if r.step == step and r.deliveries == 0 and r.refused is None)

    def summary(self, step: int, duration: float) -> dict:
        recs = [r for r in self.sent.values() if r.step == step]
        lat = sorted(r.latency_ms for r in recs if r.latency_ms is not None)
        acks = sorted(r.ack_ms for r in recs if r.ack_ms is not None)
        refused = Counter(r.refused for r in recs if r.refused)
        return {
            "sent": len(recs),
            "delivered": len(lat),
            "lost": sum(1 for r in recs if r.deliveries == 0 and not r.refused),
            "duplicated": sum(r.deliveries - 1 for r in recs if r.deliveries > 1),
            "refused": dict(refused),
            "delivered_per_s": round(len(lat) / duration, 1) if duration else None,
            "p50_ms": _r(percentile(lat, 50)),
            "p90_ms": _r(percentile(lat, 90)),
            "p99_ms": _r(percentile(lat, 99)),
            "max_ms": _r(lat[-1] if lat else None),
            "ack_p50_ms": _r(percentile(acks, 50)),
            "ack_p99_ms": _r(percentile(acks, 99)),
        }


def _mid(client_id: str | None) -> int | None:
    if client_id and client_id.startswith("b") and client_id[1:].isdigit():
        return int(client_id[1:])
    return None


def _r(v):
    return None if v is None else round(v, 2)


class Sock:
    """One websocket: a reader task feeds benchmark deliveries to the tracker and keeps other frames for `expect`."""

    def __init__(self, ws, tracker: Tracker, role: str):
        self.ws = ws
        self.tracker = tracker
        self.role = role
        self.inbox: list[dict] = []
        self.keep = True  # keep non-benchmark frames (setup); off under load
        self.arrived = asyncio.Event()
        self.last_seq: dict[int, int] = {}
        self.seqs: set[int] = set()  # shopper: every seq seen in its conversation
        self.counts: Counter = Counter()  # frames by type once quiet
        self.reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, url: str, tracker: Tracker, role: str, cookie: str | None = None, tries: int = 4) -> "Sock":
        """Connect; a handshake the server drops (Daphne closes sockets not accepted within 5 s) is retried and counted."""
        headers = {"Cookie": cookie} if cookie else None
        for attempt in range(tries):
            try:
                ws = await websockets.connect(url, origin=ORIGIN, additional_headers=headers, compression=None,
                                              max_size=None, open_timeout=60, ping_interval=None, close_timeout=1)
                return cls(ws, tracker, role)
            except (websockets.InvalidMessage, websockets.InvalidStatus, OSError, asyncio.TimeoutError):
                tracker.other_frames["connect_retry"] += 1
                if attempt == tries - 1:
                    raise
                await asyncio.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _read(self):
        tracker = self.tracker
        try:
            async for raw in self.ws:
                at = now_ns()
                tracker.frames_seen += 1
                frame = orjson.loads(raw)
                ftype = frame.get("type")
                if ftype == "message":
                    m = frame.get("message")
                    if isinstance(m, dict):
                        self._seq(m, delivered=True)
                        tracker.delivered(m["text"], at)
                    else:  # relay: the frame as the other side sent it
                        tracker.delivered(frame["text"], at)
                    continue
                if ftype == "ack" and isinstance(frame.get("message"), dict) and _mid(frame.get("client_id")):
                    self._seq(frame["message"])
                    tracker.acked(frame["client_id"], at)
                    continue
                if ftype == "error" and _mid(frame.get("client_id")):
                    tracker.refused(frame.get("client_id"), frame.get("code"))
                    continue
                if ftype in ("welcome", "synced"):
                    for m in frame.get("messages") or []:
                        self._seq(m)
                if self.keep:
                    self.inbox.append(frame)
                    self.arrived.set()
                else:
                    tracker.other_frames[ftype] += 1
                    self.counts[ftype] += 1
                    if ftype == "error":
                        self.counts[f"error:{frame.get('code')}"] += 1
        except websockets.ConnectionClosed:
            pass

    def _seq(self, m: dict, delivered: bool = False) -> None:
        cid, seq = m.get("conversation_id"), m.get("seq")
        if cid is None or seq is None:
            return
        if self.role == "shopper":
            self.seqs.add(seq)
        if delivered:
            # Deliveries from the other side must come in seq order (our own acks may overtake them).
            if seq <= self.last_seq.get(cid, 0):
                self.tracker.out_of_order += 1
            self.last_seq[cid] = seq

    async def send(self, frame: dict) -> None:
        await self.ws.send(orjson.dumps(frame).decode())

    async def expect(self, ftype: str, timeout: float = 30, **match) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for i, frame in enumerate(self.inbox):
                if frame.get("type") == ftype and all(frame.get(k) == v for k, v in match.items()):
                    return self.inbox.pop(i)
                if frame.get("type") == "error" and ftype != "error":
                    raise RuntimeError(f"{self.role} got an error while waiting for {ftype}: {frame}")
            self.arrived.clear()
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"{self.role}: no {ftype} frame; inbox {self.inbox[-3:]}")
            try:
                await asyncio.wait_for(self.arrived.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    def quiet(self) -> None:
        self.keep = False
        self.inbox.clear()

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake, as a lost network does."""
        self.ws.transport.abort()
        self.reader.cancel()


async def gather_limited(coros, limit: int):
    sem = asyncio.Semaphore(limit)

    async def one(c):
        async with sem:
            return await c

    return await asyncio.gather(*(one(c) for c in coros))


@dataclass
class Pair:
    """One conversation as the generator sees it: the shopper's socket and the agent's."""

    index: int
    shopper: Sock
    agent: Sock
    conversation_id: int | None = None  # ChatDesk's id; the relay's room is `index`


class Traffic:
    """Offer a total rate of chat messages over pairs, shopper and agent sides taking turns."""

    def __init__(self, system: str, pairs: list[Pair], agents: list[Sock], tracker: Tracker,
                 agent_limit_per_s: float = 16.0):
        self.system, self.pairs, self.tracker = system, pairs, tracker
        self.n_agents = len(agents)
        # Agents share the console's per-socket limit (20 frames/s); above it
        # the shoppers carry the extra share so no frame is rate-limited.
        self.agent_limit = agent_limit_per_s
        self.shopper_rr = itertools.cycle(range(len(pairs)))
        self.agent_rr = itertools.cycle(range(len(pairs)))

    def frame(self, pair: Pair, to_agent: bool, mid_text) -> dict:
        mid, text = mid_text
        if self.system == "relay":
            return {"type": "message", "room": pair.index, "client_id": f"b{mid}", "text": text}
        if to_agent:
            return {"type": "message", "client_id": f"b{mid}", "text": text}
        return {"type": "message", "conversation_id": pair.conversation_id, "client_id": f"b{mid}", "text": text}

    async def offer(self, rate: float, seconds: float, step: int) -> dict:
        loop = asyncio.get_running_loop()
        agent_share = min(0.5, self.agent_limit * self.n_agents / rate)
        acc = random.random()
        start = loop.time()
        n = 0
        lag_max = 0.0
        while True:
            elapsed = loop.time() - start
            if elapsed >= seconds:
                break
            due = min(int(elapsed * rate) + 1, int(seconds * rate))
            while n < due:
                acc += agent_share
                to_shopper = acc >= 1.0
                if to_shopper:
                    acc -= 1.0
                    pair = self.pairs[next(self.agent_rr)]
                    sock, direction = pair.agent, "to_shopper"
                else:
                    pair = self.pairs[next(self.shopper_rr)]
                    sock, direction = pair.shopper, "to_agent"
                mid_text = self.tracker.new(step, pair.index, direction)
                await sock.send(self.frame(pair, not to_shopper, mid_text))
                n += 1
            lag_max = max(lag_max, loop.time() - start - n / rate)
            next_at = start + (n + 0) / rate
            await asyncio.sleep(max(0.0005, next_at - loop.time()))
        sent_for = loop.time() - start
        return {"offered_per_s": rate, "sent": n, "sent_per_s": round(n / sent_for, 1), "agent_share": round(agent_share, 3),
                "scheduler_lag_max_ms": round(lag_max * 1000, 1)}

    async def drain(self, step: int, timeout: float = 5.0) -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        while self.tracker.pending(step) and loop.time() - start < timeout:
            await asyncio.sleep(0.05)
        return loop.time() - start


async def settle(tracker: Tracker, quiet_seconds: float = 2.0, timeout: float = 300.0) -> float:
    """Wait until no frame has arrived for `quiet_seconds` (the set-up's broadcasts drained); returns the wait."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    last, quiet_since = tracker.frames_seen, loop.time()
    while loop.time() - start < timeout:
        await asyncio.sleep(0.25)
        if tracker.frames_seen != last:
            last, quiet_since = tracker.frames_seen, loop.time()
        elif loop.time() - quiet_since >= quiet_seconds:
            break
    return loop.time() - start
