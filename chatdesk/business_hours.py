"""Business hours of a site: when the widget offers a live chat and when it offers to leave a message.

`Site.business_hours` is JSON in the site's own time zone (`Site.timezone`):

    {"mon": ["09:00", "17:00"],
     "tue": [["09:00", "12:00"], ["13:00", "17:30"]],
     "fri": ["22:00", "02:00"],
     "holidays": ["2026-12-25"]}

- Empty (`{}`): always open.
- Otherwise a weekday that is not listed is closed all day; a day maps to one
  `[start, end]` pair or to a list of pairs, times `HH:MM` (24 h; `24:00` is
  the end of the day). A pair whose end is not after its start runs past
  midnight into the next day.
- `holidays` lists dates (`YYYY-MM-DD`, site time zone) closed all day; an
  overnight stretch that began the day before still runs until its end.
Start is included, end is not: with `["09:00", "17:00"]`, 09:00:00 is open
and 17:00:00 is closed.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _pairs(spec) -> list[tuple[int, int]]:
    """A day's spec as (start, end) minute pairs; raises ValueError when malformed."""
    if isinstance(spec, list) and len(spec) == 2 and all(isinstance(v, str) for v in spec):
        spec = [spec]
    if not isinstance(spec, list):
        raise ValueError("a day must be [\"HH:MM\", \"HH:MM\"] or a list of such pairs")
    pairs = []
    for pair in spec:
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) and HHMM.match(v) for v in pair)):
            raise ValueError("each opening must be [\"HH:MM\", \"HH:MM\"] (24-hour clock)")
        start, end = _minutes(pair[0]), _minutes(pair[1])
        if start == 24 * 60:
            raise ValueError("an opening cannot start at 24:00")
        pairs.append((start, end))
    return pairs


def validate_business_hours(value) -> None:
    """Django validator for `Site.business_hours`: a clear message naming the bad day."""
    if not isinstance(value, dict):
        raise ValidationError("Business hours must be an object such as {\"mon\": [\"09:00\", \"17:00\"]}.")
    for key, spec in value.items():
        if key == "holidays":
            if not isinstance(spec, list) or not all(isinstance(d, str) for d in spec):
                raise ValidationError("'holidays' must be a list of dates such as \"2026-12-25\".")
            for d in spec:
                try:
                    date.fromisoformat(d)
                except ValueError:
                    raise ValidationError(f"'holidays': {d!r} is not a date (YYYY-MM-DD).") from None
            continue
        if key not in DAYS:
            raise ValidationError(f"Unknown day {key!r}: use one of {', '.join(DAYS)} or 'holidays'.")
        try:
            _pairs(spec)
        except ValueError as exc:
            raise ValidationError(f"'{key}': {exc}.") from None


def site_zone(tz_name: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_open(hours: dict, tz_name: str, now: datetime) -> bool:
    """True when `now` (aware) falls inside the opening hours; malformed hours count as always open."""
    if not hours:
        return True
    try:
        validate_business_hours(hours)
    except ValidationError:
        return True  # a typo in the admin must not close the shop; the admin form reports it
    local = now.astimezone(site_zone(tz_name))
    holidays = {date.fromisoformat(d) for d in hours.get("holidays", [])}
    minute = local.hour * 60 + local.minute + local.second / 60
    today = DAYS[local.weekday()]
    yesterday = DAYS[(local.weekday() - 1) % 7]
    if local.date() not in holidays:
        for start, end in _pairs(hours[today]) if today in hours else []:
            if end > start and start <= minute < end:
                return True
            if end <= start and minute >= start:  # overnight, first part
                return True
    for start, end in _pairs(hours[yesterday]) if yesterday in hours else []:
        day_before = local.date() - timedelta(days=1)
        if end <= start and minute < end and day_before not in holidays:  # overnight, second part
            return True
    return False
