"""How figures read on the page and in CSV: the cards, the tables and their formatting (no computing here)."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$"}


def fmt_int(value) -> str:
    return "–" if value is None else f"{value:,}"


def fmt_rate(value) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def fmt_points(value) -> str:
    """A difference of rates, in percentage points with its sign."""
    if value is None:
        return "–"
    return f"{value * 100:+.1f} pts".replace("-", "−")


def fmt_seconds(value) -> str:
    if value is None:
        return "–"
    total = round(value)
    if total < 60:
        return f"{value:.0f} s" if value >= 10 or value == int(value) else f"{value:.1f} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} m {secs:02d} s" if secs else f"{minutes} m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} m"


def fmt_money(value, currency) -> str:
    if value is None:
        return "–"
    amount = Decimal(value)
    text = f"{amount:,.2f}"
    symbol = SYMBOLS.get(currency or "")
    return f"{symbol}{text}" if symbol else f"{text} {currency or ''}".strip()


def fmt_ratio_change(value) -> str:
    return "–" if value is None else f"{value * 100:+.0f}%".replace("-", "−")


FORMATTERS = {
    "int": lambda v, c: fmt_int(v), "rate": lambda v, c: fmt_rate(v), "seconds": lambda v, c: fmt_seconds(v),
    "money": fmt_money, "text": lambda v, c: "–" if v in (None, "") else str(v),
    "change": lambda v, c: fmt_ratio_change(v), "points": lambda v, c: fmt_points(v),
    "number": lambda v, c: "–" if v is None else f"{v:g}",
}


@dataclass
class Card:
    key: str
    label: str
    value: str
    detail: str
    raw: object = None
    tone: str = ""


def cards(s: dict) -> list[Card]:
    cur = s.get("currency")
    iv = s["intervention"]
    lift_detail = "needs visitors in both arms"
    if iv["lift"] is not None:
        lift_detail = (f"95% CI {fmt_points(iv['ci_low'])} to {fmt_points(iv['ci_high'])} · "
                       f"{iv['treatment']:,} prompted vs {iv['holdout']:,} held out")
    tone = ""
    if iv["ci_low"] is not None:
        tone = "good" if iv["ci_low"] > 0 else "bad" if iv["ci_high"] < 0 else ""
    missed = f"{fmt_int(s['missed'])} missed" + (f" ({fmt_rate(s['missed_rate'])})" if s["missed_rate"] else "")
    rated = ("no conversation closed yet" if s["csat_response_rate"] is None
             else f"{fmt_rate(s['csat_response_rate'])} of closed conversations rated")
    baseline = ("no checkout without chat to compare" if s["baseline_conversion_rate"] is None
                else f"baseline without chat {fmt_rate(s['baseline_conversion_rate'])}")
    orders = f"{fmt_int(s['attributed_orders'])} order{'s' if s['attributed_orders'] != 1 else ''}"
    if s["aov_uplift"] is not None:
        orders += f" · AOV {fmt_ratio_change(s['aov_uplift'])} vs other orders"
    offers = ("no offers made" if not s["offers_made"] else
              f"{fmt_int(s['offers_accepted'])} of {fmt_int(s['offers_made'])} · "
              f"{fmt_money(s['offer_revenue'], cur)} offer revenue")
    contacted = s.get("contacted_carts") or 0
    recovery = (f"{fmt_int(s['abandoned_carts'])} abandoned, none contacted" if not contacted else
                f"{fmt_rate(s['recovery_rate'])} of {fmt_int(contacted)} contacted · "
                f"{fmt_int(s['abandoned_carts'])} abandoned")
    return [
        Card("conversations", "Conversations", fmt_int(s["conversations"]), missed, s["conversations"]),
        Card("wait_p50_s", "Wait, median", fmt_seconds(s["wait_p50_s"]),
             "nobody answered yet" if s["wait_p90_s"] is None else f"90th percentile {fmt_seconds(s['wait_p90_s'])}",
             s["wait_p50_s"]),
        Card("first_response_p50_s", "First response, median", fmt_seconds(s["first_response_p50_s"]),
             "no agent reply yet" if s["first_response_p90_s"] is None
             else f"90th percentile {fmt_seconds(s['first_response_p90_s'])}", s["first_response_p50_s"]),
        Card("csat", "CSAT", fmt_rate(s["csat"]), rated, s["csat"]),
        Card("chat_conversion_rate", "Chat conversion", fmt_rate(s["chat_conversion_rate"]), baseline,
             s["chat_conversion_rate"]),
        Card("attributed_revenue", "Attributed revenue", fmt_money(s["attributed_revenue"], cur), orders,
             s["attributed_revenue"]),
        Card("offer_acceptance_rate", "Offers accepted", fmt_rate(s["offer_acceptance_rate"]), offers,
             s["offer_acceptance_rate"]),
        Card("recovered_carts", "Carts recovered", fmt_int(s["recovered_carts"]), recovery, s["recovered_carts"]),
        Card("intervention_lift", "Proactive prompt lift", fmt_points(iv["lift"]), lift_detail, iv["lift"],
             f"wide {tone}".strip()),
    ]


@dataclass
class Table:
    name: str
    title: str
    columns: list[tuple[str, str]]  # (label, kind)
    rows: list[list] = field(default_factory=list)
    currency: str | None = None

    @property
    def header(self) -> list[str]:
        return [label for label, _ in self.columns]

    def display_rows(self) -> list[list[tuple[str, str]]]:
        """Each cell as (text, kind): the page aligns text left and figures right."""
        return [[(FORMATTERS[kind](value, self.currency), kind) for (_, kind), value in zip(self.columns, row)]
                for row in self.rows]

    def header_cells(self) -> list[tuple[str, str]]:
        return list(self.columns)


def _flatten_summary(s: dict) -> list[list]:
    rows = []
    for key, value in s.items():
        if isinstance(value, dict):
            rows += [[f"{key}.{k}", "" if v is None else v] for k, v in value.items()]
        else:
            rows.append([key, "" if value is None else value])
    return rows


def tables(s: dict, data: dict) -> dict[str, Table]:
    cur = s.get("currency")
    out = [
        Table("summary", "Every figure", [("Figure", "text"), ("Value", "text")], _flatten_summary(s)),
        Table("over_time", "Conversations and conversion over time", [
            ("Period starting", "text"), ("Conversations", "int"), ("With an agent message", "int"),
            ("Converted", "int"), ("Missed", "int"), ("Chat conversion", "rate"), ("Attributed orders", "int"),
            ("Attributed revenue", "money")],
            [[p["period"], p["conversations"], p["engaged"], p["converted"], p["missed"], p["chat_conversion_rate"],
              p["attributed_orders"], p["attributed_revenue"]] for p in data["over_time"]["points"]], cur),
        Table("wait_distribution", "Wait time distribution", [("Wait", "text"), ("Conversations", "int")],
              [[b["label"], b["count"]] for b in data["distributions"]["wait"]]),
        Table("first_response_distribution", "First response distribution",
              [("First response", "text"), ("Conversations", "int")],
              [[b["label"], b["count"]] for b in data["distributions"]["first_response"]]),
        Table("reasons", "Abandonment reasons", [
            ("Code", "text"), ("Reason", "text"), ("Conversations", "int"), ("Share", "rate"),
            ("Baymard share", "rate")],
            [[r["code"], r["label"], r["count"], r["share"], r["baymard_share"]] for r in data["reasons"]]),
        Table("offers", "Offers by kind and outcome", [
            ("Kind", "text"), ("Made", "int"), ("Accepted", "int"), ("Declined", "int"), ("Expired", "int"),
            ("Open", "int"), ("Acceptance", "rate")],
            [[o["kind"].replace("_", " "), o["made"], o["accepted"], o["declined"], o["expired"], o["proposed"],
              o["acceptance_rate"]] for o in data["offers"]]),
        Table("agents", "Agents", [
            ("Agent", "text"), ("Username", "text"), ("Conversations", "int"), ("Wait, median", "seconds"),
            ("First response, median", "seconds"), ("CSAT", "rate"), ("Chat conversion", "rate"),
            ("Offers made", "int"), ("Offer acceptance", "rate"), ("Attributed orders", "int"),
            ("Attributed revenue", "money"), ("Offer revenue", "money")],
            [[a["name"], a["username"], a["conversations"], a["wait_p50_s"], a["first_response_p50_s"], a["csat"],
              a["chat_conversion_rate"], a["offers_made"], a["offer_acceptance_rate"], a["attributed_orders"],
              a["attributed_revenue"], a["offer_revenue"]] for a in data["agents"]], cur),
        Table("load", "Load: conversations taken per agent", [
            ("Period starting", "text"), ("Conversations taken", "int"), ("Agents", "int"), ("Per agent", "number")],
            [[p["period"], p["taken"], p["agents"], p["per_agent"]] for p in data["load"]["points"]]),
        Table("intervention", "Proactive prompts against the holdout", [
            ("Arm", "text"), ("Visitors", "int"), ("Ordered within the window", "int"), ("Conversion", "rate"),
            ("Lift", "points"), ("95% CI low", "points"), ("95% CI high", "points")],
            [["treatment (prompted)", s["intervention"]["treatment"], s["intervention"]["treatment_converted"],
              s["intervention"]["treatment_rate"], s["intervention"]["lift"], s["intervention"]["ci_low"],
              s["intervention"]["ci_high"]],
             ["holdout (never prompted)", s["intervention"]["holdout"], s["intervention"]["holdout_converted"],
              s["intervention"]["holdout_rate"], None, None, None]]),
    ]
    return {t.name: t for t in out}
