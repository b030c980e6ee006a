"""Parse and validate client frames on both sockets, before anything is stored.

Each frame type names its fields; `parse_frame` returns a clean dict or
raises ActionError with a code naming the problem, so a consumer only has to
turn the error into an `error` frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import orjson

from .errors import ActionError
from .text import nul_path

MAX_FRAME_BYTES = 64 * 1024
MAX_TEXT = 4000


@dataclass(frozen=True)
class Field:
    kind: str  # str, int, bool, object, nullable_str, any
    required: bool = True
    min: int | None = None
    max: int | None = None
    choices: tuple | None = None
    default: object = None


CLIENT_ID = Field("str", min=1, max=64)
TEXT = Field("str", min=1, max=MAX_TEXT)
CONVERSATION_ID = Field("int", min=1)

SHOPPER_FRAMES: dict[str, dict[str, Field]] = {
    "hello": {
        "visitor_token": Field("nullable_str", required=False, max=1000),
        "last_seq": Field("int", required=False, min=0, default=0),
        "conversation_id": Field("int", required=False, min=1),
        "url": Field("str", required=False, max=1000),
    },
    "cart": {"cart": Field("object")},
    "page": {
        "url": Field("str", min=1, max=1000),
        "title": Field("str", required=False, max=300, default=""),
        "checkout_step": Field("str", required=False, choices=("cart", "contact", "shipping", "payment", "review", "complete")),
    },
    "message": {"client_id": CLIENT_ID, "text": TEXT},
    "typing": {"active": Field("bool")},
    "offer_response": {"offer_id": Field("int", min=1), "accepted": Field("bool")},
    "rate": {"score": Field("int", min=1, max=5), "comment": Field("str", required=False, max=2000, default="")},
    "intervention": {
        "trigger": Field("str", min=1, max=64),
        "action": Field("str", choices=("triggered", "shown", "accepted", "dismissed")),
    },
    "identify": {
        "email": Field("str", required=False, max=254, default=""),
        "name": Field("str", required=False, max=200, default=""),
        "phone": Field("str", required=False, max=40, default=""),
        "signature": Field("str", required=False, max=200, default=""),
        "consent_email": Field("bool", required=False, default=False),
        "consent_sms": Field("bool", required=False, default=False),
    },
    "sync": {"last_seq": Field("int", min=0)},
    "ping": {},
    # Offered when the site is closed or no agent is online (welcome.availability); see docs/routing.md.
    "leave_message": {
        "client_id": CLIENT_ID,
        "text": TEXT,
        "email": Field("str", required=False, max=254, default=""),
        "phone": Field("str", required=False, max=40, default=""),
    },
}

CONSOLE_FRAMES: dict[str, dict[str, Field]] = {
    "claim": {"conversation_id": CONVERSATION_ID},
    "message": {"conversation_id": CONVERSATION_ID, "client_id": CLIENT_ID, "text": TEXT},
    "note": {"conversation_id": CONVERSATION_ID, "client_id": CLIENT_ID, "text": TEXT},
    "offer": {"conversation_id": CONVERSATION_ID, "client_id": CLIENT_ID, "offer": Field("object")},
    "close": {
        "conversation_id": CONVERSATION_ID,
        "reason": Field("str", min=1, max=32),
        "note": Field("str", required=False, max=MAX_TEXT, default=""),
    },
    "transfer": {
        "conversation_id": CONVERSATION_ID,
        "to_agent": Field("any", required=False),
        "to_queue": Field("any", required=False),
        "note": Field("str", required=False, max=MAX_TEXT, default=""),
    },
    "sync": {"conversation_id": CONVERSATION_ID, "last_seq": Field("int", min=0)},
    "presence": {"status": Field("str", choices=("online", "away"))},
    "typing": {"conversation_id": CONVERSATION_ID, "active": Field("bool")},
    "open": {"conversation_id": CONVERSATION_ID},
    "invite": {"visitor_id": Field("str", min=1, max=64), "text": Field("str", required=False, max=500, default="")},
    "context": {"conversation_id": CONVERSATION_ID},
    "products": {"q": Field("str", required=False, max=100, default=""),
                 "site": Field("str", required=False, max=64, default="")},
    "visitors": {},
    "ping": {},
    "left_message_done": {
        "left_message_id": Field("int", min=1),
        "note": Field("str", required=False, max=MAX_TEXT, default=""),
    },
}


def _check(name: str, spec: Field, value):
    kind = spec.kind
    if kind == "any":
        return value
    if kind == "nullable_str":
        if value is None:
            return None
        kind = "str"
    if kind == "str":
        if not isinstance(value, str):
            raise ActionError("invalid_field", f"'{name}' must be a string", name)
        if spec.min is not None and len(value) < spec.min:
            code = "invalid_field" if spec.min > 0 and value else "invalid_field"
            raise ActionError(code, f"'{name}' must be at least {spec.min} characters", name)
        if spec.max is not None and len(value) > spec.max:
            code = "text_too_long" if name == "text" else "invalid_field"
            raise ActionError(code, f"'{name}' must be at most {spec.max} characters", name)
        if spec.choices and value not in spec.choices:
            raise ActionError("invalid_field", f"'{name}' must be one of {', '.join(spec.choices)}", name)
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ActionError("invalid_field", f"'{name}' must be an integer", name)
        if spec.min is not None and value < spec.min:
            raise ActionError("invalid_field", f"'{name}' must be at least {spec.min}", name)
        if spec.max is not None and value > spec.max:
            raise ActionError("invalid_field", f"'{name}' must be at most {spec.max}", name)
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ActionError("invalid_field", f"'{name}' must be true or false", name)
        return value
    if kind == "object":
        if not isinstance(value, dict):
            raise ActionError("invalid_field", f"'{name}' must be an object", name)
        return value
    raise AssertionError(kind)


def decode(text: str | bytes | None):
    """Decode one websocket frame into a dict with a string `type`, or raise ActionError."""
    if text is None:
        raise ActionError("invalid_json", "frames must be JSON text")
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ActionError("invalid_json", "frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise ActionError("invalid_frame", "frame must be a JSON object")
    if "\\u0000" in (text if isinstance(text, str) else text.decode("utf-8", "replace")):
        # PostgreSQL cannot store NUL in text or jsonb, and no one types it.
        where = nul_path(data)
        if where is not None:
            raise ActionError("invalid_frame", f"'{where}' must not contain NUL (\\u0000) characters", where)
    if not isinstance(data.get("type"), str):
        raise ActionError("invalid_frame", "frame must have a string 'type'", "type")
    return data


def parse_frame(data: dict, table: dict[str, dict[str, Field]]) -> dict:
    """Validate a decoded frame against its type's fields; unknown extra fields are ignored."""
    ftype = data["type"]
    fields = table.get(ftype)
    if fields is None:
        raise ActionError("unknown_type", f"unknown frame type '{ftype[:40]}'", "type")
    clean = {"type": ftype}
    for name, spec in fields.items():
        if name not in data or (data[name] is None and spec.kind != "nullable_str"):
            if spec.required:
                raise ActionError("missing_field", f"'{name}' is required", name)
            clean[name] = spec.default
            continue
        clean[name] = _check(name, spec, data[name])
    return clean
