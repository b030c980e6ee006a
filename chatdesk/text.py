"""Text hygiene for what shoppers type: masking payment card numbers."""
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
