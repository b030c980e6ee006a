"""What a report covers: a UTC date range, optionally one site and one agent, parsed strictly from query params."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone as dt_timezone

from django.contrib.auth import get_user_model

from ..models import Site

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PARAMS = ("from", "to", "site", "agent")
MAX_DAYS = 1096  # three years: the daily series stays a few hundred points


class ScopeError(ValueError):
    """Bad report parameters; `errors` maps each parameter to what is wrong with it."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Scope:
    """From the first second of `first_day` to the last second of `last_day` (UTC), one site and agent or all."""

    first_day: date
    last_day: date
    site: Site | None = None
    agent: object | None = None  # a User with an agent profile

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time.min, tzinfo=dt_timezone.utc)

    @property
    def end(self) -> datetime:
        """Exclusive end: midnight after the last day."""
        return datetime.combine(self.last_day + timedelta(days=1), time.min, tzinfo=dt_timezone.utc)

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range((self.last_day - self.first_day).days + 1)]

    def as_params(self) -> dict[str, str]:
        params = {"from": self.first_day.isoformat(), "to": self.last_day.isoformat()}
        if self.site is not None:
            params["site"] = self.site.key
        if self.agent is not None:
            params["agent"] = self.agent.get_username()
        return params


def _parse_day(value: str | None, name: str, errors: dict) -> date | None:
    if value is None or value == "":
        errors[name] = "required, as YYYY-MM-DD"
        return None
    if not DATE.match(value):
        errors[name] = f"'{value}' is not a date in the form YYYY-MM-DD"
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = f"'{value}' is not a real calendar date"
        return None


def parse_scope(params, default_days: int | None = None, today: date | None = None) -> Scope:
    """Read `from`, `to`, `site`, `agent` from a QueryDict or dict; raise ScopeError listing every bad one.

    With `default_days`, missing dates mean the last `default_days` days up to
    today (the page's default); the API passes none, so both dates are required.
    """
    errors: dict[str, str] = {}
    unknown = sorted(k for k in params.keys() if k not in PARAMS)
    for key in unknown:
        errors[key] = f"unknown parameter; use {', '.join(PARAMS)}"
    raw_from, raw_to = params.get("from"), params.get("to")
    if default_days and not raw_from and not raw_to:
        last = today or datetime.now(dt_timezone.utc).date()
        first_day, last_day = last - timedelta(days=default_days - 1), last
    else:
        first_day = _parse_day(raw_from, "from", errors)
        last_day = _parse_day(raw_to, "to", errors)
    if first_day and last_day:
        if first_day > last_day:
            errors["to"] = "must be on or after 'from'"
        elif (last_day - first_day).days + 1 > MAX_DAYS:
            errors["to"] = f"the range may cover at most {MAX_DAYS} days"

    site = None
    site_key = params.get("site") or ""
    if site_key:
        site = Site.objects.filter(key=site_key).first()
        if site is None:
            errors["site"] = f"no site with key '{site_key}'"
    agent = None
    username = params.get("agent") or ""
    if username:
        agent = get_user_model().objects.filter(username=username).select_related("agent_profile").first()
        if agent is None:
            errors["agent"] = f"no user named '{username}'"
        elif not hasattr(agent, "agent_profile"):
            errors["agent"] = f"'{username}' is not an agent"
            agent = None
    if errors:
        raise ScopeError(errors)
    return Scope(first_day, last_day, site, agent)
