"""Fuzz every frame type of both sockets with Hypothesis, built from the frame tables themselves.

For each type, frames are drawn near the valid shape: each field valid,
missing, at a boundary, or any JSON at all, plus junk keys. Whatever comes
in, the socket must answer (never an `internal` error, never a close for a
frame under 64 KiB), refuse with an `error` that names the problem, and
store nothing from a refused frame. A new frame type added to
chatdesk.frames is fuzzed without touching this file.
"""
from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from hypothesis import strategies as st

from agents.consumers import ConsoleConsumer
from chatdesk.frames import CONSOLE_FRAMES, MAX_FRAME_BYTES, SHOPPER_FRAMES, Field
from shopper_widget.consumers import WidgetConsumer

from .conftest import console, make_agent, make_site, widget
from .fuzzing import JSON, NASTY_TEXT, diff_counts, row_counts, run_property

pytestmark = pytest.mark.django_db(transaction=True)

MISSING = object()
SAFE_INT_MAX = 2**53 - 1


def field_values(name: str, spec: Field, ids: dict) -> st.SearchStrategy:
    """Valid values, boundary values and anything at all, for one field."""
    kind = spec.kind
    anything = JSON
    if kind in ("str", "nullable_str"):
        lo, hi = spec.min or 0, spec.max or 200
        good = st.sampled_from(spec.choices) if spec.choices else st.text(min_size=lo, max_size=min(hi, 80))
        edges = st.sampled_from(sorted({max(lo - 1, 0), lo, hi, hi + 1})).map(lambda n: "x" * n)
        known = st.sampled_from(ids.get(name, [])) if ids.get(name) else st.nothing()
        return st.one_of(good, edges, NASTY_TEXT, known, anything)
    if kind == "int":
        lo = spec.min if spec.min is not None else -(2**63)
        hi = spec.max if spec.max is not None else SAFE_INT_MAX
        known = st.sampled_from(ids.get(name, [])) if ids.get(name) else st.nothing()
        edges = st.sampled_from([lo - 1, lo, hi, hi + 1, 2**63, 2**64, -1, 0])
        return st.one_of(known, st.integers(lo, hi), edges, st.booleans(), st.text(max_size=5), anything)
    if kind == "bool":
        return st.one_of(st.booleans(), st.sampled_from([0, 1, "true", None]), anything)
    if kind == "object":
        shaped = {"cart": cart_like(), "offer": offer_like(ids)}.get(name, st.nothing())
        return st.one_of(shaped, shaped, st.dictionaries(st.text(max_size=10), JSON, max_size=5), anything)
    return st.one_of(st.sampled_from(ids.get(name, [None])), anything)


MONEY = st.one_of(
    st.decimals(min_value=0, max_value=10**6, places=2).map(str), st.sampled_from(["-1.00", "1e3", "0.001", "NaN", "", "12345678901.00"]),
    JSON,
)


def cart_like() -> st.SearchStrategy:
    item = st.fixed_dictionaries({}, optional={
        "sku": st.one_of(st.text(min_size=1, max_size=12), NASTY_TEXT, JSON),
        "name": st.one_of(NASTY_TEXT, JSON),
        "quantity": st.one_of(st.integers(-5, 20000), JSON),
        "unit_price": MONEY,
        "image_url": st.one_of(st.text(max_size=30), JSON),
        "url": st.one_of(st.text(max_size=30), JSON),
    })
    return st.fixed_dictionaries({}, optional={
        "cart_token": st.one_of(st.text(min_size=1, max_size=20), JSON),
        "currency": st.one_of(st.sampled_from(["USD", "EUR", "usd", "US", "XXXX"]), JSON),
        "items": st.one_of(st.lists(st.one_of(item, JSON), max_size=4), JSON),
        "subtotal": MONEY, "shipping": MONEY, "tax": MONEY, "discount": MONEY, "total": MONEY,
        "checkout_step": st.one_of(st.sampled_from(["cart", "contact", "shipping", "payment", "review", "complete", "x"]), JSON),
    })


def offer_like(ids) -> st.SearchStrategy:
    return st.fixed_dictionaries({}, optional={
        "kind": st.one_of(st.sampled_from(["upsell", "cross_sell", "bundle", "discount", "free_shipping", "gift"]), JSON),
        "title": NASTY_TEXT,
        "sku": st.one_of(st.sampled_from(["TEE-1", "NOPE"]), NASTY_TEXT, JSON),
        "price": MONEY,
        "discount_code": st.one_of(st.text(max_size=70), JSON),
    })


def frames_of(ftype: str, fields: dict[str, Field], ids: dict) -> st.SearchStrategy:
    parts = {name: st.one_of(st.just(MISSING), field_values(name, spec, ids)) for name, spec in fields.items()}
    junk = st.dictionaries(st.text(max_size=8).filter(lambda k: k not in fields and k != "type"), JSON, max_size=2)

    def build(values_and_junk):
        values, extra = values_and_junk
        frame = {"type": ftype, **extra}
        frame.update({k: v for k, v in values.items() if v is not MISSING})
        return frame

    return st.tuples(st.fixed_dictionaries(parts), junk).map(build)


BARRIER = {"type": "fuzz-barrier"}


def _is_barrier(reply: dict) -> bool:
    return reply.get("type") == "error" and reply.get("code") == "unknown_type" and "fuzz-barrier" in reply["detail"]


async def answer_to(sock, frame=None, raw: bytes | None = None) -> list[dict]:
    """Send one frame, then a barrier frame the server refuses without touching the database;
    everything before the barrier's error is the answer (a socket handles frames in order)."""
    if raw is not None:
        await sock.c.send_to(bytes_data=raw)
    else:
        await sock.c.send_to(text_data=json.dumps(frame) if not isinstance(frame, str) else frame)
    await sock.send(BARRIER)
    replies = []
    while True:
        out = await sock.c.receive_output(10)
        assert out["type"] == "websocket.send", f"the socket was closed after {frame or raw!r}: {out}"
        reply = json.loads(out["text"])
        if _is_barrier(reply):
            return replies
        replies.append(reply)


def assert_answer_is_sound(frame, replies, before, after) -> None:
    errors = [r for r in replies if r.get("type") == "error"]
    for err in errors:
        assert err["code"] != "internal", f"server error for {frame!r}: {err}"
        assert isinstance(err.get("code"), str) and err["code"] and err.get("detail"), err
        if err["code"] in ("invalid_field", "missing_field", "text_too_long"):
            assert err.get("field") and err["field"] in err["detail"], f"error does not name the field: {err}"
    if errors:
        assert diff_counts(before, after) == {}, f"refused {frame!r} but stored {diff_counts(before, after)}"


def _fast(monkeypatch):
    # The fuzzer sends far more than 10 frames a second; rate limits have their own tests.
    monkeypatch.setattr(WidgetConsumer, "rate", 10_000.0)
    monkeypatch.setattr(WidgetConsumer, "burst", 10_000.0)
    monkeypatch.setattr(ConsoleConsumer, "rate", 10_000.0)
    monkeypatch.setattr(ConsoleConsumer, "burst", 10_000.0)


async def _world():
    """Site 1 with alice (an active conversation, an offer, a queued one) and site 2 with its own conversation."""
    def build():
        from chatdesk.actions import conversations, offers
        from chatdesk.models import Product, Visitor

        site = make_site()
        other = make_site("other-store")
        Product.objects.create(site=site, sku="TEE-1", name="T-shirt", price="19.99")
        alice = make_agent("alice", site)
        make_agent("bob", site)
        carol = make_agent("carol", other)
        v1, v2, v3 = (Visitor.objects.create(site=s) for s in (site, site, other))
        active, _ = conversations.post_shopper_message(v1, "v1-1", "hi")
        conversations.claim(alice, active.conversation_id)
        offer, _ = offers.make_offer(alice, active.conversation_id, "o-1", {"kind": "upsell", "title": "Hoodie",
                                                                          "sku": "TEE-1", "price": "10.00"})
        queued, _ = conversations.post_shopper_message(v2, "v2-1", "anyone?")
        foreign, _ = conversations.post_shopper_message(v3, "v3-1", "other site")
        conversations.claim(carol, foreign.conversation_id)
        return alice, {
            "conversation_id": [active.conversation_id, queued.conversation_id, foreign.conversation_id, 10**9],
            "offer_id": [offer.id, 10**9],
            "visitor_id": [str(v1.public_id), str(v3.public_id)],
            "to_agent": ["bob", "carol", alice.id, "nobody"],
            "to_queue": ["general", "nope", 1],
            "reason": ["extra_costs", "other", "nope"],
            "status": ["online", "away"],
        }

    return await sync_to_async(build)()


async def _fuzz_table(sock, table: dict, ids: dict) -> None:
    # Counting after each example gives the next one its "before": one query per example.
    counts = [await sync_to_async(row_counts)()]
    for ftype, fields in table.items():
        if ftype == "ping":
            continue

        async def check(frame):
            replies = await answer_to(sock, frame)
            counts.append(await sync_to_async(row_counts)())
            assert_answer_is_sound(frame, replies, counts[-2], counts[-1])
            del counts[:-1]

        await run_property(frames_of(ftype, fields, ids), check)


async def test_fuzzed_shopper_frames_are_answered_refused_cleanly_and_store_nothing_when_refused(monkeypatch):
    _fast(monkeypatch)
    alice, ids = await _world()
    shopper = await widget()
    await _fuzz_table(shopper, SHOPPER_FRAMES, ids)
    await shopper.close()


async def test_fuzzed_console_frames_are_answered_refused_cleanly_and_store_nothing_when_refused(monkeypatch):
    _fast(monkeypatch)
    alice, ids = await _world()
    agent = await console(alice)
    await _fuzz_table(agent, CONSOLE_FRAMES, ids)
    await agent.close()


RAW = st.one_of(
    st.text(max_size=200),
    JSON.map(json.dumps),
    st.sampled_from(["", "null", "[]", "{}", '{"type": null}', '{"type": ""}', '{"type": "x" }' * 3, "\x00",
                     '{"type": "message", "text": "' + "y" * 20000 + '"}',
                     # As deep as the parser goes, with a NUL at the bottom for the NUL check to find.
                     '{"type": "message", "x": ' + "[" * 1000 + '"\\u0000"' + "]" * 1000 + "}"]),
)


@pytest.mark.parametrize("side", ["shopper", "console"])
async def test_any_text_or_bytes_under_the_size_limit_gets_an_answer_and_keeps_the_socket(monkeypatch, side):
    _fast(monkeypatch)
    alice, _ = await _world()
    sock = await (widget() if side == "shopper" else console(alice))

    counts = [await sync_to_async(row_counts)()]

    async def check(raw):
        if isinstance(raw, bytes):
            replies = await answer_to(sock, raw=raw)
        else:
            if len(raw.encode()) > MAX_FRAME_BYTES or not raw:
                return
            replies = await answer_to(sock, raw)
        counts.append(await sync_to_async(row_counts)())
        assert_answer_is_sound(raw, replies, counts[-2], counts[-1])
        del counts[:-1]
        assert replies, f"no answer to {raw!r}"

    await run_property(st.one_of(RAW, st.binary(min_size=1, max_size=100)), check)
    await sock.close()


@pytest.mark.parametrize("side", ["shopper", "console"])
async def test_a_frame_as_deep_as_the_parser_goes_with_a_nul_inside_is_refused_not_internal(side):
    """Found by the frame fuzzer's deep sample: the NUL check recursed past Python's limit (`internal`)."""
    alice, _ = await _world()
    sock = await (widget() if side == "shopper" else console(alice))
    deep = "[" * 1000 + '"\\u0000"' + "]" * 1000
    replies = await answer_to(sock, '{"type": "message", "x": ' + deep + "}")
    errors = [r for r in replies if r.get("type") == "error"]
    assert [e["code"] for e in errors] == ["invalid_frame"] and errors[0]["field"].startswith("x[0][0]"), replies
    await sock.close()


def test_nul_path_names_the_first_nul_in_document_order():
    from chatdesk.text import nul_path

    assert nul_path({"a": [1, {"b": "x\x00"}], "c\x00": "y"}) == "a[1].b"
    assert nul_path({"a": "ok", "c\x00": "y"}) == "c\x00"
    assert nul_path("\x00") == "frame" and nul_path({"a": ["fine"]}) is None
