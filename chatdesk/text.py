"""Text hygiene: masking payment card numbers shoppers type, dropping NUL characters nobody can store."""
import re

# 13-19 digits, optionally grouped by single spaces or dashes.
_CARD_CANDIDATE = re.compile(r"(?<![\d])(?:\d[ -]?){12,18}\d(?![\d])")


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _mask(match: re.Match) -> str:
    raw = match.group(0)
    digits = re.sub(r"[ -]", "", raw)
    if not (13 <= len(digits) <= 19) or not luhn_valid(digits):
        return raw
    return "**** **** **** " + digits[-4:]


def mask_card_numbers(text: str) -> str:
    """Replace anything that looks like a real card number (Luhn-valid) with its last four digits."""
    if not any(c.isdigit() for c in text):
        return text
    return _CARD_CANDIDATE.sub(_mask, text)


def without_nul(document):
    """A parsed JSON document with NUL removed from every string and key (PostgreSQL stores neither).

    Iterative, so that the deepest document a JSON parser accepts cannot exhaust Python's stack.
    """
    holder = [document]
    stack = [(holder, 0)]
    while stack:
        container, key = stack.pop()
        item = container[key]
        if isinstance(item, str):
            container[key] = item.replace("\x00", "")
        elif isinstance(item, list):
            stack.extend((item, i) for i in range(len(item)))
        elif isinstance(item, dict):
            if any("\x00" in k for k in item):
                item = {k.replace("\x00", ""): v for k, v in item.items()}
                container[key] = item
            stack.extend((item, k) for k in item)
    return holder[0]


def nul_path(document) -> str | None:
    """Where the first NUL sits in a parsed JSON document ("items[2].name", or the key itself), else None.

    Iterative for the same reason as `without_nul`: a frame may nest as deep as the parser allows.
    """
    stack = [(document, "", None)]
    while stack:
        value, path, key = stack.pop()
        if key is not None and "\x00" in key:
            return path
        if isinstance(value, str):
            if "\x00" in value:
                return path or "frame"
        elif isinstance(value, dict):
            stack.extend((item, f"{path}.{k}" if path else str(k), k) for k, item in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", None) for i, item in reversed(list(enumerate(value))))
    return None
