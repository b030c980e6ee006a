"""Build a realistic reports history in PostgreSQL, fast: every table the summary reads, filled server-side.

`build()` writes sites, agents, products, follow-up steps and intervention
rules with the ORM (a few dozen rows), then plans every other row in
temporary tables with INSERT ... SELECT over generate_series and random(),
and writes each real table once, in its final state, ordered by time (ids
follow created_at, as they do in a live database, so the planner's
correlation statistics are honest). No UPDATE touches a real table, so no
dead rows are left for VACUUM to hide.

The story of one visitor: they browse (visitor), start a cart and may reach
a checkout step; one visitor in `visitors_per_conversation` opens a
conversation (one in ten of those comes back 1-48 h later for a second one);
an agent claims it (wait) and answers (first response), may make offers, and
closes it with a reason; a rating follows sometimes. Carts that reached
`contact` and went quiet are abandoned (event + abandoned_at), get follow-ups
by email / SMS / call, and some come back and order after a conversation or
follow-up (the event stays, abandoned_at is cleared, as the app does). Orders
come from completed carts, from visitors without a cart, and from shoppers
the widget never saw; each is attributed by METRICS.md's last-touch rule (the
same query as chatdesk/attribution.py, run over the planned rows), and offer
revenue is computed from its lines and discount codes exactly as
`compute_offer_revenue` does. Visitors meeting a prompt's trigger are split
into treatment and holdout at the site's holdout share, with their events.

Tables the summary does not read are left empty (page views, cart
snapshots, notes, call tasks, webhook deliveries).
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

STEPS = ["cart", "contact", "shipping", "payment", "review", "complete"]
# (key, name, share of traffic, attribution window h, holdout share, order-id prefix)
SITES = [
    ("shop-a", "Northwind Outfitters", 0.55, 72, "0.100", "NW"),
    ("shop-b", "Lumen Home", 0.30, 48, "0.200", "LH"),
    ("shop-c", "Verde Pantry", 0.15, 168, "0.100", "VP"),
]
PRODUCTS_PER_SITE = 40
SUPERVISOR = "sam"
AGENT_NAMES = [
    "Alice", "Bob", "Chiara", "Dmitri", "Emeka", "Fatima", "Gustav", "Hana", "Ines", "Jonas",
    "Kemal", "Lena", "Marco", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Sami", "Tomoko",
    "Ugo", "Vera", "Wanjiru", "Xavier", "Yusuf", "Zofia",
]
# Close reasons with Baymard's shares where published (chatdesk.models.CLOSE_REASONS), plus the
# ones agents pick most in a checkout chat.
REASON_WEIGHTS = {
    "extra_costs": 48, "account_required": 26, "payment_trust": 25, "delivery_slow": 23,
    "checkout_complicated": 22, "total_unclear": 21, "returns_policy": 18, "site_error": 17,
    "payment_methods": 13, "card_declined": 9, "product_question": 60, "just_browsing": 30, "other": 20,
}
OFFER_KIND_WEIGHTS = {"upsell": 25, "cross_sell": 25, "bundle": 15, "discount": 20, "free_shipping": 15}
SHOPPER_LINES = [
    "Hi, is shipping free over 50?", "Can I change the size after ordering?", "Do you ship to Canada?",
    "The discount code is not working", "How long does delivery take?", "Is this in stock?",
    "Can I pay with PayPal?", "What is your returns policy?", "ok thanks", "Does it come in blue?",
    "My card was declined, why?", "Great, I'll order now",
]
AGENT_LINES = [
    "Hi! Happy to help with your order.", "Yes, shipping is free from 50.", "Let me check that for you.",
    "Delivery takes 2-4 working days.", "It is in stock, ready to ship today.", "Returns are free for 30 days.",
    "Try the code again without spaces.", "We take cards, PayPal and Apple Pay.", "Anything else I can do?",
    "That size runs small, I'd go one up.", "I've added a 10% code for you.", "Thanks for shopping with us!",
]


def sql_text_array(items) -> str:
    return "ARRAY[" + ", ".join("'" + s.replace("'", "''") + "'" for s in items) + "]::text[]"


def sql_float_array(items) -> str:
    return "ARRAY[" + ", ".join(repr(float(x)) for x in items) + "]::float8[]"


HELPERS = """
CREATE OR REPLACE FUNCTION pg_temp.lognormal(median float8, sigma float8) RETURNS float8
LANGUAGE sql VOLATILE AS $$ SELECT $1 * exp($2 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) $$;

CREATE OR REPLACE FUNCTION pg_temp.pick(choices text[], weights float8[]) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE total float8 := 0; u float8; acc float8 := 0; i int;
BEGIN
  FOR i IN 1 .. array_length(weights, 1) LOOP total := total + weights[i]; END LOOP;
  u := random() * total;
  FOR i IN 1 .. array_length(weights, 1) LOOP
    acc := acc + weights[i];
    IF u < acc THEN RETURN choices[i]; END IF;
  END LOOP;
  RETURN choices[array_length(choices, 1)];
END $$;
"""

TEMP_TABLES = ["bs", "ba", "bsa", "bp", "bc0", "bc", "bk0", "bk", "bf", "bo0", "bo", "bof", "bol", "bia", "bie"]


def _safe_database(connection) -> None:
    """The builder empties every site-related table: only ever in a bench or test database."""
    name = connection.settings_dict["NAME"] or ""
    if connection.vendor != "postgresql":
        raise RuntimeError("the reports bench builds its data with PostgreSQL SQL; DATABASE_URL must be PostgreSQL")
    if not (name.startswith("test_") or "bench" in name):
        raise RuntimeError(f"refusing to build bench data in database '{name}' (its name must contain 'bench' "
                           "or start with 'test_')")


def _setup_rows(n_agents: int) -> dict:
    """Sites, agents, a supervisor, products, follow-up steps and prompt rules: a few dozen rows, by the ORM."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from agents.models import AgentProfile
    from chatdesk.models import FollowUpStep, InterventionRule, Product, Site

    User = get_user_model()
    sites = []
    for key, name, _share, window, holdout, _prefix in SITES:
        site = Site(key=key, name=name, allowed_origins=f"https://{key}.example.com", currency="USD",
                    attribution_window_hours=window, holdout_share=Decimal(holdout))
        site.set_api_key(f"bench-key-{key}")
        site.save()
        sites.append(site)

    names = [f"agent{i:02d}" for i in range(1, n_agents + 1)]
    User.objects.filter(username__in=names + [SUPERVISOR]).delete()
    unusable = make_password(None)  # hashing a real password per agent would cost a second each
    users = User.objects.bulk_create([
        User(username=u, first_name=AGENT_NAMES[i % len(AGENT_NAMES)], password=unusable) for i, u in enumerate(names)
    ])
    profiles = AgentProfile.objects.bulk_create([
        AgentProfile(user=u, display_name=AGENT_NAMES[i % len(AGENT_NAMES)] + (f" {i // len(AGENT_NAMES) + 1}"
                     if i >= len(AGENT_NAMES) else ""), capacity=6)
        for i, u in enumerate(users)
    ])
    # Half the agents on the biggest site, the rest spread; a few serve two sites.
    through = AgentProfile.sites.through
    links = []
    for i, profile in enumerate(profiles):
        share = i / max(1, len(profiles))
        home = sites[0] if share < 0.5 else sites[1] if share < 0.8 else sites[2]
        links.append(through(agentprofile_id=profile.pk, site_id=home.pk))
        if i % 5 == 4 and home is not sites[-1]:
            links.append(through(agentprofile_id=profile.pk, site_id=sites[sites.index(home) + 1].pk))
    through.objects.bulk_create(links)

    sam = User.objects.create(username=SUPERVISOR, first_name="Sam", is_staff=True, password=unusable)
    sam.groups.add(Group.objects.get_or_create(name="supervisors")[0])

    adjectives = ["Classic", "Merino", "Linen", "Canvas", "Organic", "Travel", "Everyday", "Studio"]
    nouns = ["Tee", "Hoodie", "Mug", "Lamp", "Tote", "Candle", "Throw", "Planter", "Socks", "Jacket"]
    products = []
    for site in sites:
        for j in range(1, PRODUCTS_PER_SITE + 1):
            price = Decimal(8 + (j * 37) % 140) + Decimal("0.99")
            products.append(Product(site=site, sku=f"{site.key.upper()}-{j:03d}", price=price,
                                    name=f"{adjectives[j % len(adjectives)]} {nouns[(j * 3) % len(nouns)]}"))
    Product.objects.bulk_create(products)
    steps, rules = [], []
    for site in sites:
        steps += [FollowUpStep(site=site, channel=FollowUpStep.EMAIL, delay_minutes=60),
                  FollowUpStep(site=site, channel=FollowUpStep.SMS, delay_minutes=1440, min_cart_value=Decimal("100")),
                  FollowUpStep(site=site, channel=FollowUpStep.CALL, delay_minutes=2880, min_cart_value=Decimal("250"))]
        rules += [InterventionRule(site=site, trigger="shipping-shock", name="Shipping shown", order=1,
                                   text="Questions about shipping? We're here.",
                                   conditions={"shipping_shown_within_s": 60}),
                  InterventionRule(site=site, trigger="exit-intent", name="Leaving checkout", order=2,
                                   text="Before you go, can we help?", conditions={"exit_intent": True})]
    FollowUpStep.objects.bulk_create(steps)
    InterventionRule.objects.bulk_create(rules)
    return {"sites": sites, "agents": len(users)}


def _fill_missing(cursor, table: str, model, columns: list[str]) -> tuple[list[str], list[str]]:
    """Columns of `table` that an INSERT lists no value for but that are NOT NULL: their model defaults.

    A field added after this builder was written (on another branch) then
    gets its default instead of failing the INSERT; the names are returned
    so the run can say which columns it did not fill on purpose.
    """
    cursor.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND is_nullable = 'NO' "
        "AND column_default IS NULL AND is_identity = 'NO'", [table])
    missing = [r[0] for r in cursor.fetchall() if r[0] not in columns and r[0] != "id"]
    exprs = []
    by_column = {f.column: f for f in model._meta.concrete_fields}
    for column in missing:
        field = by_column.get(column)
        value = field.get_default() if field is not None and field.has_default() else ""
        if isinstance(value, (dict, list)):
            exprs.append("'" + json.dumps(value).replace("'", "''") + "'::jsonb")
        elif isinstance(value, bool):
            exprs.append("true" if value else "false")
        elif isinstance(value, (int, float, Decimal)):
            exprs.append(repr(float(value)) if isinstance(value, float) else str(value))
        else:
            exprs.append("'" + str(value).replace("'", "''") + "'")
    return missing, exprs


def build(conversations: int = 100_000, messages: int = 1_000_000, days: int = 90, end: datetime | None = None,
          visitors_per_conversation: int = 4, agents: int = 20, seed: float = 0.42, log=print) -> dict:
    """Empty every site-related table and build the history; returns counts and per-step seconds.

    Runs in one transaction on Django's default connection (PostgreSQL only).
    `end` defaults to now, to the minute; conversations span `days` days up to it.
    """
    from django.db import DatabaseError, connection, transaction

    from chatdesk import models as m

    _safe_database(connection)
    if conversations < 1 or messages < 0 or days < 1 or visitors_per_conversation < 1 or agents < 1:
        raise ValueError("sizes must be positive")
    end = (end or datetime.now(timezone.utc)).replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    N, M, K = conversations, messages, visitors_per_conversation
    V = N * K
    END, START = f"'{end.isoformat()}'::timestamptz", f"'{start.isoformat()}'::timestamptz"
    steps_sql = sql_text_array(STEPS)
    timings: dict[str, float] = {}
    notes: list[str] = []

    with transaction.atomic(), connection.cursor() as cur:
        def step(name: str, *statements: str):
            t0 = time.perf_counter()
            for i, sql in enumerate(statements, 1):
                t1 = time.perf_counter()
                cur.execute(sql)
                if time.perf_counter() - t1 > 5:
                    notes.append(f"slow: {name} #{i}: {time.perf_counter() - t1:.1f} s: {' '.join(sql.split())[:160]}")
            timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - t0, 3)

        def insert(table: str, model, columns: list[str], select_exprs: list[str], rest: str):
            missing, extra = _fill_missing(cur, table, model, columns)
            if missing:
                notes.append(f"{table}: model defaults for {', '.join(missing)}")
            cols = ", ".join(columns + missing)
            exprs = ",\n  ".join(select_exprs + extra)
            return f"INSERT INTO {table} ({cols})\nSELECT {exprs}\n{rest}"

        cur.execute("SET LOCAL work_mem = '256MB'")
        cur.execute("SET LOCAL synchronous_commit = off")
        try:
            with transaction.atomic():
                cur.execute("SET LOCAL temp_buffers = '512MB'")
        except DatabaseError:
            pass  # temp tables already used in this session: keep the default
        cur.execute(HELPERS)
        cur.execute(f"SELECT setseed({float(seed)})")
        for t in TEMP_TABLES:
            cur.execute(f"DROP TABLE IF EXISTS pg_temp.{t}")

        t0 = time.perf_counter()
        cur.execute("TRUNCATE chatdesk_site RESTART IDENTITY CASCADE")
        setup = _setup_rows(agents)
        sites = setup["sites"]
        timings["setup (ORM rows)"] = round(time.perf_counter() - t0, 3)

        site_values = ", ".join(
            f"({s.pk}, '{key}', '{prefix}', {window}, {holdout}, {share})"
            for s, (key, _n, share, window, holdout, prefix) in zip(sites, SITES))
        cum, cases = 0.0, []
        for s, (_k, _n, share, *_rest) in zip(sites, SITES):
            cum += share
            cases.append(f"WHEN u < {cum:.6f} THEN {s.pk}")
        site_case = "CASE " + " ".join(cases[:-1]) + f" ELSE {sites[-1].pk} END"
        step(
            "plan: sites, agents, products",
            f"CREATE TEMP TABLE bs (site_id bigint, key text, prefix text, window_h int, holdout float8, share float8)",
            f"INSERT INTO bs VALUES {site_values}",
            "CREATE TEMP TABLE ba AS SELECT user_id, display_name FROM agents_agentprofile",
            """CREATE TEMP TABLE bsa AS SELECT s.site_id, array_agg(p.user_id ORDER BY p.user_id) AS ids
               FROM agents_agentprofile_sites s JOIN agents_agentprofile p ON p.id = s.agentprofile_id GROUP BY s.site_id""",
            """CREATE TEMP TABLE bp AS SELECT site_id, row_number() OVER (PARTITION BY site_id ORDER BY sku) AS rn,
               sku, name, price FROM chatdesk_product""",
            "CREATE INDEX ON bp (site_id, rn)",
            "ANALYZE bs, ba, bsa, bp",
        )

        # --- visitors: ids follow time; one in K opens a conversation ---------------------------
        step("visitors", insert(
            "chatdesk_visitor", m.Visitor,
            ["id", "site_id", "public_id", "created_at", "last_seen_at", "connected_sockets", "disconnected_at",
             "name", "email", "phone", "identified", "consent_email", "consent_sms", "current_url", "current_title",
             "checkout_step", "step_changed_at", "redacted_at"],
            [f"i", site_case, "gen_random_uuid()", "t", f"LEAST(t + interval '25 minutes', {END})", "0",
             f"LEAST(t + interval '26 minutes', {END})",
             "CASE WHEN ident THEN 'Shopper ' || i ELSE '' END",
             "CASE WHEN ident THEN 'shopper' || i || '@example.com' ELSE '' END", "''", "ident",
             "ident AND random() < 0.6", "false", "'/checkout'", "'Checkout'", "''", "NULL", "NULL"],
            f"""FROM (SELECT i, random() AS u, random() < 0.2 AS ident,
                     {START} + ({END} - interval '10 minutes' - {START}) * ((i - random()) / {V}) AS t
                  FROM generate_series(1, {V}) AS i) s""",
        ))

        # --- conversations (planned; written last) -----------------------------------------------
        step(
            "plan: conversations",
            f"""CREATE TEMP TABLE bc0 AS
                SELECT g.c AS plan_no, v.id AS visitor_id, v.site_id,
                  LEAST(CASE WHEN g.returning AND v.created_at + g.back_h * interval '1 hour' < {END} - interval '1 hour'
                             THEN v.created_at + g.back_h * interval '1 hour'
                             ELSE v.created_at + (1 + random() * 19) * interval '1 minute' END,
                        {END} - (5 + random() * 55) * interval '1 second') AS created_at
                FROM (SELECT c, mod(c, 10) = 0 AS returning, 1 + random() * 47 AS back_h,
                             CASE WHEN mod(c, 10) = 0 THEN (c - 2) * {K} + 1 ELSE (c - 1) * {K} + 1 END AS vid
                      FROM generate_series(1, {N}) AS c) g
                JOIN chatdesk_visitor v ON v.id = g.vid""",
            """CREATE TEMP TABLE bc AS
                SELECT row_number() OVER (ORDER BY created_at, plan_no) AS id, visitor_id, site_id, created_at,
                       random() AS u, random() AS u_offers,
                       NULL::text AS status, NULL::int AS agent_id, NULL::float8 AS wait_s, NULL::float8 AS resp_s,
                       NULL::float8 AS session_s, NULL::timestamptz AS fa, NULL::timestamptz AS fam,
                       NULL::timestamptz AS closed_at, NULL::timestamptz AS missed_at, ''::text AS reason,
                       NULL::int AS rating, NULL::int AS wait_secs, false AS over_target,
                       NULL::bigint AS cart_id, false AS proactive, 0 AS base, 0::numeric AS weight, 0 AS n,
                       NULL::timestamptz AS last_message_at
                FROM bc0""",
            f"""UPDATE bc SET status = CASE
                  WHEN {END} - created_at < interval '3 minutes' AND u < 0.6 THEN 'queued'
                  WHEN {END} - created_at < interval '40 minutes' THEN 'active'
                  WHEN u < 0.07 THEN 'missed' ELSE 'closed' END""",
            # Busier agents take more: the pick leans towards the start of the site's list.
            """UPDATE bc SET agent_id = (SELECT ids[1 + floor(power(random(), 1.3) * cardinality(ids))::int]
                                        FROM bsa WHERE bsa.site_id = bc.site_id AND bc.id > 0)
               WHERE status IN ('active', 'closed')""",
            """UPDATE bc SET wait_s = LEAST(2 + pg_temp.lognormal(18, 0.9), 900),
                             resp_s = 3 + pg_temp.lognormal(10, 0.8),
                             session_s = 60 * (3 + pg_temp.lognormal(9, 0.6))
               WHERE agent_id IS NOT NULL""",
            f"""UPDATE bc SET status = 'queued', agent_id = NULL
               WHERE status = 'active' AND created_at + wait_s * interval '1 second' >= {END}""",
            "UPDATE bc SET fa = created_at + wait_s * interval '1 second' WHERE agent_id IS NOT NULL",
            # 4% of claimed conversations never get an agent message (the shopper left first).
            f"""UPDATE bc SET fam = fa + resp_s * interval '1 second'
               WHERE fa IS NOT NULL AND fa + resp_s * interval '1 second' < {END}
                 AND (status = 'active' OR random() >= 0.04)""",
            # Missed: the sweep marks it once the shopper has been gone for the site's missed_after_minutes;
            # it sets missed_at, not closed_at (chatdesk.actions.sweeps.mark_missed).
            f"""UPDATE bc SET
                  missed_at = CASE WHEN status = 'missed'
                                   THEN created_at + interval '5 minutes' + random() * interval '30 seconds' END,
                  closed_at = CASE WHEN status = 'closed'
                                   THEN GREATEST(LEAST(COALESCE(fam, fa) + session_s * interval '1 second',
                                                       {END} - interval '1 second'), COALESCE(fam, fa)) END""",
            # What _leave_queue records when a conversation stops waiting (claimed or missed): the first wait
            # in whole seconds, and whether it passed the site's target wait (queued_at is created_at here).
            """UPDATE bc SET wait_secs = floor(extract(epoch FROM COALESCE(bc.fa, bc.missed_at) - bc.created_at))::int,
                             over_target = extract(epoch FROM COALESCE(bc.fa, bc.missed_at) - bc.created_at)
                                           > s.target_wait_seconds
               FROM chatdesk_site s WHERE s.id = bc.site_id AND COALESCE(bc.fa, bc.missed_at) IS NOT NULL""",
            f"""UPDATE bc SET
                  reason = CASE WHEN status = 'closed' AND random() < 0.88 THEN
                    pg_temp.pick({sql_text_array(REASON_WEIGHTS)}, {sql_float_array(REASON_WEIGHTS.values())})
                    ELSE '' END,
                  rating = CASE WHEN status = 'closed' AND random() < 0.28 THEN
                    pg_temp.pick(ARRAY['1','2','3','4','5'], ARRAY[8, 5, 10, 25, 52]::float8[])::int END""",
            "CREATE INDEX ON bc (id)",
            "CREATE INDEX ON bc (visitor_id, created_at)",
            # Temporary tables get no autovacuum: without statistics the planner scans them per outer row.
            "ANALYZE bc",
        )

        # --- messages: exactly M, each conversation's seq 1..n, times consistent with it -----------
        step(
            "plan: message counts",
            """UPDATE bc SET
                 base = CASE WHEN status IN ('queued', 'missed') THEN 1
                             WHEN fam IS NULL THEN CASE WHEN status = 'closed' THEN 3 ELSE 2 END
                             WHEN status = 'active' THEN 3 ELSE 4 END,
                 weight = round((CASE WHEN fam IS NOT NULL AND status = 'closed' THEN pg_temp.lognormal(1, 0.5)
                                      ELSE 0.15 END)::numeric, 6)""",
            # Cumulative floors in exact numeric arithmetic: the counts add up to M exactly.
            f"""WITH t AS (SELECT GREATEST({M} - sum(base), 0) AS extra, sum(weight) AS tw FROM bc),
                     w AS (SELECT id, base, weight, sum(weight) OVER (ORDER BY id) AS cw FROM bc)
                UPDATE bc SET n = w.base + (floor(t.extra * w.cw / t.tw) - floor(t.extra * (w.cw - w.weight) / t.tw))::int
                FROM w, t WHERE w.id = bc.id""",
        )
        a_seq = "CASE WHEN c.fam IS NULL THEN NULL WHEN c.n >= 3 THEN 3 ELSE 2 END"
        close_line = "(c.status = 'closed' AND c.n >= CASE WHEN c.fam IS NULL THEN 3 ELSE 4 END)"
        sender = f"""CASE
              WHEN s = 1 THEN 'shopper'
              WHEN {close_line} AND s = c.n THEN 'system'
              WHEN c.fa IS NOT NULL AND s = 2 AND (c.fam IS NULL OR c.n >= 3) THEN 'system'
              WHEN c.fam IS NOT NULL AND s = {a_seq} THEN 'agent'
              WHEN c.fam IS NOT NULL AND s > {a_seq} THEN CASE WHEN mod(s * 31 + c.id, 20) < 11 THEN 'agent' ELSE 'shopper' END
              ELSE 'shopper' END"""
        at = f"""CASE
              WHEN s = 1 THEN c.created_at
              WHEN {close_line} AND s = c.n THEN c.closed_at
              WHEN c.fa IS NOT NULL AND s = 2 AND (c.fam IS NULL OR c.n >= 3) THEN c.fa
              WHEN c.fam IS NOT NULL AND s = {a_seq} THEN c.fam
              WHEN c.fam IS NOT NULL THEN c.fam + (COALESCE(c.closed_at, {END}) - c.fam) * ((s - {a_seq})::float8 / (c.n - {a_seq} + 1))
              WHEN c.fa IS NOT NULL THEN c.fa + (COALESCE(c.closed_at, {END}) - c.fa) * ((s - 2)::float8 / (c.n - 1))
              ELSE c.created_at + (COALESCE(c.missed_at, LEAST(c.created_at + interval '3 minutes', {END})) - c.created_at)
                   * ((s - 1)::float8 / c.n) END"""
        step("messages", insert(
            "chatdesk_message", m.Message,
            ["conversation_id", "seq", "sender", "author_id", "author_name", "text", "client_id", "created_at"],
            ["c.id", "s", "x.sender", "CASE WHEN x.sender = 'agent' THEN c.agent_id END",
             "CASE x.sender WHEN 'agent' THEN COALESCE(a.display_name, '') WHEN 'system' THEN 'ChatDesk' ELSE '' END",
             f"""CASE x.sender
                   WHEN 'shopper' THEN ({sql_text_array(SHOPPER_LINES)})[1 + mod(c.id * 7 + s, {len(SHOPPER_LINES)})]
                   WHEN 'agent' THEN ({sql_text_array(AGENT_LINES)})[1 + mod(c.id * 5 + s, {len(AGENT_LINES)})]
                   WHEN 'system' THEN CASE WHEN s = 2 THEN COALESCE(a.display_name, 'An agent') || ' joined the conversation'
                                           ELSE 'The conversation was closed.' END END""",
             "CASE WHEN x.sender = 'system' THEN '' ELSE 'b' || c.id || '-' || s END", "x.at"],
            f"""FROM bc c LEFT JOIN ba a ON a.user_id = c.agent_id
                CROSS JOIN LATERAL generate_series(1, c.n) AS s
                CROSS JOIN LATERAL (SELECT {sender} AS sender, LEAST({at}, {END}) AS at) x""",
        ), """UPDATE bc SET last_message_at = x.at
              FROM (SELECT conversation_id, max(created_at) AS at FROM chatdesk_message GROUP BY 1) x
              WHERE x.conversation_id = bc.id""")

        # --- carts: most chatting visitors and many others; chatters get further ------------------
        chat_w = sql_float_array([15, 10, 13, 14, 8, 40])
        other_w = sql_float_array([40, 16, 14, 12, 6, 12])
        step(
            "plan: carts and abandonment",
            """CREATE TEMP TABLE bk0 AS
                SELECT v.id AS visitor_id, v.site_id, v.created_at AS vt, v.email AS v_email, ch.first_chat
                FROM chatdesk_visitor v
                LEFT JOIN (SELECT visitor_id, min(created_at) AS first_chat FROM bc GROUP BY 1) ch ON ch.visitor_id = v.id
                WHERE random() < CASE WHEN ch.first_chat IS NOT NULL THEN 0.85 ELSE 0.6 END""",
            f"""CREATE TEMP TABLE bk AS
                SELECT row_number() OVER (ORDER BY created_at, visitor_id) AS id, s.*,
                       array_position({steps_sql}, step0) - 1 AS idx0,
                       random() AS u_q, random() AS u_r, random() AS u_d, random() AS u_src,
                       1 + (random() < 0.35)::int + (random() < 0.12)::int AS n_items,
                       NULL::timestamptz AS last_activity, NULL::timestamptz AS ordered_at,
                       NULL::timestamptz AS abandoned0, NULL::timestamptz AS chat_contact,
                       NULL::timestamptz AS fu_contact, NULL::timestamptz AS recovered_at,
                       ''::text AS email, ''::text AS phone, false AS consent_email, false AS consent_sms,
                       '[]'::jsonb AS items, 0::numeric AS subtotal
                FROM (SELECT visitor_id, site_id, first_chat, v_email,
                        LEAST(CASE WHEN first_chat IS NOT NULL
                                   THEN GREATEST(vt, first_chat - (0.5 + random() * 15) * interval '1 minute')
                                   ELSE vt + (1 + random() * 9) * interval '1 minute' END,
                              {END} - interval '1 minute') AS created_at,
                        CASE WHEN first_chat IS NOT NULL THEN pg_temp.pick({steps_sql}, {chat_w})
                             ELSE pg_temp.pick({steps_sql}, {other_w}) END AS step0
                      FROM bk0) s""",
            "CREATE INDEX ON bk (id)",
            "CREATE INDEX ON bk (visitor_id)",
            "ANALYZE bk",
            f"""UPDATE bk SET last_activity = LEAST(created_at + (3 + pg_temp.lognormal(8, 0.6)) * interval '1 minute', {END}),
                   email = CASE WHEN idx0 >= 1 THEN COALESCE(NULLIF(v_email, ''), 'buyer' || visitor_id || '@example.com')
                                ELSE v_email END,
                   phone = CASE WHEN idx0 >= 1 AND random() < 0.4 THEN '+1555' || lpad(visitor_id::text, 7, '0') ELSE '' END""",
            "UPDATE bk SET consent_email = email <> '' AND random() < 0.6, consent_sms = phone <> '' AND random() < 0.4",
            # A cart completed in its first session is ordered when the session ends, unless that is still to come.
            f"""UPDATE bk SET ordered_at = CASE WHEN step0 = 'complete' AND last_activity < {END} THEN last_activity END,
                   step0 = CASE WHEN step0 = 'complete' AND last_activity >= {END} THEN 'review' ELSE step0 END,
                   idx0 = CASE WHEN step0 = 'complete' AND last_activity >= {END} THEN 4 ELSE idx0 END""",
            f"""UPDATE bk SET abandoned0 = last_activity + interval '30 minutes' + random() * interval '5 minutes'
               WHERE idx0 BETWEEN 1 AND 4 AND last_activity + interval '35 minutes' <= {END}""",
            f"""UPDATE bk SET (items, subtotal) = (
                 SELECT jsonb_agg(jsonb_build_object('sku', p.sku, 'name', p.name, 'quantity', 1,
                                                     'unit_price', p.price::text) ORDER BY i),
                        sum(p.price)
                 FROM generate_series(1, bk.n_items) AS i
                 JOIN bp p ON p.site_id = bk.site_id AND p.rn = 1 + mod(bk.id * 13 + i * 7, {PRODUCTS_PER_SITE}))""",
        )

        # --- follow-ups of abandoned carts: email, SMS over 100, a call over 250 ------------------
        step(
            "plan: follow-ups",
            f"""CREATE TEMP TABLE bf AS
                SELECT k.id AS cart_id, st.id AS step_id, st.channel, k.abandoned0 AS created_at,
                       k.abandoned0 + st.delay_minutes * interval '1 minute' AS due_at,
                       CASE st.channel WHEN 'email' THEN k.email ELSE k.phone END AS recipient,
                       CASE st.channel WHEN 'email' THEN k.consent_email WHEN 'sms' THEN k.consent_sms
                                       ELSE k.phone <> '' END AS allowed,
                       random() AS u, ''::text AS status, ''::text AS skip_reason,
                       NULL::timestamptz AS sent_at, NULL::timestamptz AS clicked_at
                FROM bk k JOIN chatdesk_followupstep st ON st.site_id = k.site_id AND k.subtotal >= st.min_cart_value
                WHERE k.abandoned0 IS NOT NULL""",
            f"""UPDATE bf SET
                  status = CASE WHEN NOT allowed THEN 'skipped' WHEN due_at > {END} THEN 'pending'
                                WHEN channel = 'call' AND u >= 0.55 THEN 'skipped' ELSE 'sent' END,
                  skip_reason = CASE WHEN NOT allowed THEN CASE WHEN recipient = '' THEN 'no_address' ELSE 'no_consent' END
                                     WHEN due_at <= {END} AND channel = 'call' AND u >= 0.55 THEN 'unreached' ELSE '' END""",
            f"""UPDATE bf SET sent_at = LEAST(due_at + CASE WHEN channel = 'call' THEN random() * interval '8 hours'
                                                          ELSE random() * interval '3 minutes' END, {END})
               WHERE status = 'sent'""",
            f"""UPDATE bf SET clicked_at = sent_at + (5 + random() * 600) * interval '1 minute'
               WHERE status = 'sent' AND channel <> 'call' AND random() < 0.18
                 AND sent_at + interval '605 minutes' < {END}""",
            "CREATE INDEX ON bf (cart_id)",
            "ANALYZE bf",
        )

        # --- recovery: some abandoned carts come back after a chat or a follow-up -----------------
        step(
            "plan: recoveries",
            "ANALYZE bk, bf",
            # Joins and GROUP BY rather than a subquery per cart: the bulk form whatever the estimates say.
            """UPDATE bk SET chat_contact = x.first
               FROM (SELECT k.id, min(c.created_at) AS first FROM bk k
                     JOIN bc c ON c.visitor_id = k.visitor_id AND c.fam IS NOT NULL AND c.created_at >= k.abandoned0
                     GROUP BY k.id) x
               WHERE x.id = bk.id""",
            """UPDATE bk SET fu_contact = x.first
               FROM (SELECT cart_id, min(sent_at) AS first FROM bf WHERE status = 'sent' GROUP BY 1) x
               WHERE x.cart_id = bk.id""",
            f"""UPDATE bk SET recovered_at = CASE
                  WHEN chat_contact IS NOT NULL AND (fu_contact IS NULL OR chat_contact <= fu_contact) AND random() < 0.30
                    THEN chat_contact + LEAST(pg_temp.lognormal(2, 1.0), 40) * interval '1 hour'
                  WHEN fu_contact IS NOT NULL AND random() < 0.12
                    THEN fu_contact + LEAST(pg_temp.lognormal(3, 1.0), 40) * interval '1 hour'
                  WHEN random() < 0.03 THEN abandoned0 + (2 + random() * 94) * interval '1 hour' END
               WHERE abandoned0 IS NOT NULL""",
            f"UPDATE bk SET recovered_at = NULL WHERE recovered_at >= {END}",
            "UPDATE bk SET ordered_at = recovered_at WHERE recovered_at IS NOT NULL",
            # A follow-up due after the order is skipped by the app; it never reaches the shopper.
            """UPDATE bf SET status = 'skipped', skip_reason = 'ordered', sent_at = NULL, clicked_at = NULL
               FROM bk WHERE bk.id = bf.cart_id AND bk.ordered_at IS NOT NULL
                 AND ((bf.status = 'sent' AND bf.sent_at > bk.ordered_at)
                      OR (bf.status = 'pending' AND bf.due_at > bk.ordered_at))""",
            # The widget sends the cart with the conversation most of the time.
            """UPDATE bc SET cart_id = k.id FROM bk k
               WHERE k.visitor_id = bc.visitor_id AND k.created_at <= bc.created_at + interval '5 minutes'
                 AND random() < 0.85""",
        )

        # --- orders: completed carts, visitors without a cart, shoppers the widget never saw ------
        step(
            "plan: orders and attribution",
            """CREATE TEMP TABLE bo0 AS
                SELECT k.site_id, k.id AS cart_id, CASE WHEN random() < 0.65 THEN k.visitor_id END AS visitor_id,
                       k.ordered_at AS created_at, k.email, 'ct-' || k.visitor_id AS cart_token
                FROM bk k WHERE k.ordered_at IS NOT NULL""",
            f"""INSERT INTO bo0
                SELECT v.site_id, NULL, v.id, LEAST(v.created_at + (5 + random() * 55) * interval '1 minute',
                                                    {END} - interval '1 minute'),
                       COALESCE(NULLIF(v.email, ''), 'buyer' || v.id || '@example.com'), ''
                FROM chatdesk_visitor v WHERE NOT EXISTS (SELECT 1 FROM bk WHERE bk.visitor_id = v.id) AND random() < 0.04""",
            f"""INSERT INTO bo0
                SELECT {site_case}, NULL, NULL, {START} + ({END} - {START}) * random(), 'walkin' || g || '@example.org', ''
                FROM (SELECT g, random() AS u FROM generate_series(1, (SELECT round(count(*) * 0.12)::int FROM bo0)) g) s""",
            """CREATE TEMP TABLE bo AS
                SELECT row_number() OVER (ORDER BY created_at, cart_id, visitor_id) AS id, bo0.*,
                       NULL::bigint AS conversation_id, random() AS u, '[]'::jsonb AS codes,
                       1 + (random() < 0.45)::int + (random() < 0.15)::int + (random() < 0.05)::int AS n_lines,
                       random() AS u2, random() AS u3,
                       0::numeric AS subtotal, 0::numeric AS total, 0::numeric AS offer_revenue
                FROM bo0""",
            "CREATE INDEX ON bo (id)",
            "ANALYZE bo",
            # METRICS.md last touch, as chatdesk.attribution.find_conversation: the latest conversation of
            # the order's visitor or its cart's visitor, on the site, with an agent message, started
            # before the order and within the window. Set-based (hash joins on the visitor, then the latest
            # per order): a subquery per order scanned every conversation once the tables grew.
            """UPDATE bo SET conversation_id = x.conv_id
               FROM (SELECT DISTINCT ON (cand.order_id) cand.order_id, cand.conv_id
                     FROM (SELECT o.id AS order_id, c.id AS conv_id, c.created_at
                           FROM bo o JOIN bs ON bs.site_id = o.site_id
                           JOIN bc c ON c.visitor_id = o.visitor_id AND c.site_id = o.site_id AND c.fam IS NOT NULL
                            AND c.created_at < o.created_at AND c.created_at >= o.created_at - bs.window_h * interval '1 hour'
                           UNION
                           SELECT o.id, c.id, c.created_at
                           FROM bo o JOIN bs ON bs.site_id = o.site_id JOIN bk k ON k.id = o.cart_id
                           JOIN bc c ON c.visitor_id = k.visitor_id AND c.site_id = o.site_id AND c.fam IS NOT NULL
                            AND c.created_at < o.created_at AND c.created_at >= o.created_at - bs.window_h * interval '1 hour'
                          ) cand
                     ORDER BY cand.order_id, cand.created_at DESC, cand.conv_id DESC) x
               WHERE x.order_id = bo.id""",
            "CREATE INDEX ON bo (conversation_id)",
            "ANALYZE bo",
        )

        # --- offers: a third of engaged conversations; accepted more often when they convert -------
        kinds = sql_text_array(OFFER_KIND_WEIGHTS)
        kind_w = sql_float_array(OFFER_KIND_WEIGHTS.values())
        step(
            "plan: offers",
            f"""CREATE TEMP TABLE bof AS
                SELECT row_number() OVER (ORDER BY x.created_at, x.conversation_id, x.k) AS id, x.*
                FROM (
                  SELECT c.id AS conversation_id, c.agent_id, c.site_id, c.status AS conv_status, g.k,
                         c.id IN (SELECT conversation_id FROM bo WHERE conversation_id IS NOT NULL) AS converted,
                         pg_temp.pick({kinds}, {kind_w}) AS kind,
                         GREATEST(LEAST(c.fam + g.k * (0.5 + random() * 9.5) * interval '1 minute',
                                        COALESCE(c.closed_at, {END}) - interval '1 second'), c.fam) AS created_at,
                         1 + floor(random() * {PRODUCTS_PER_SITE})::int AS rn, random() AS u
                  FROM bc c
                  CROSS JOIN LATERAL generate_series(1, CASE WHEN c.u_offers < 0.25 THEN 1 WHEN c.u_offers < 0.32 THEN 2
                                                             ELSE 0 END) AS g(k)
                  WHERE c.fam IS NOT NULL) x""",
            f"""ALTER TABLE bof ADD COLUMN status text, ADD COLUMN sku text, ADD COLUMN title text,
                ADD COLUMN price numeric, ADD COLUMN discount_code text""",
            f"""UPDATE bof SET status = CASE
                  WHEN conv_status = 'active' THEN CASE WHEN created_at + interval '60 minutes' < {END} THEN 'expired'
                                                        ELSE 'proposed' END
                  WHEN converted THEN pg_temp.pick(ARRAY['accepted','declined','expired'], ARRAY[55, 25, 20]::float8[])
                  ELSE pg_temp.pick(ARRAY['accepted','declined','expired'], ARRAY[15, 40, 45]::float8[]) END""",
            """UPDATE bof SET
                  sku = CASE WHEN bof.kind IN ('upsell', 'cross_sell', 'bundle') THEN p.sku ELSE '' END,
                  price = CASE WHEN bof.kind IN ('upsell', 'cross_sell') THEN p.price
                               WHEN bof.kind = 'bundle' THEN round(p.price * 1.8, 2) END,
                  discount_code = CASE WHEN bof.kind = 'discount' THEN 'CHAT10-' || bof.conversation_id ELSE '' END,
                  title = CASE bof.kind WHEN 'upsell' THEN 'Upgrade: ' || p.name WHEN 'cross_sell' THEN 'Goes well with it: ' || p.name
                                        WHEN 'bundle' THEN 'Bundle: 2 x ' || p.name WHEN 'discount' THEN '10% off your order'
                                        ELSE 'Free shipping on this order' END
               FROM bp p WHERE p.site_id = bof.site_id AND p.rn = bof.rn""",
            "CREATE INDEX ON bof (conversation_id)",
            "ANALYZE bof",
        )

        # --- order lines, codes, totals and offer revenue (compute_offer_revenue in SQL) -----------
        step(
            "plan: order lines and offer revenue",
            # Random picks in a subquery's select list, per (order, line): a LATERAL subquery that does not
            # reference the outer row would be computed once and repeated for every order.
            f"""CREATE TEMP TABLE bol AS
                SELECT x.order_id, p.sku, p.name, x.quantity, p.price AS unit_price
                FROM (SELECT o.id AS order_id, o.site_id, 1 + floor(random() * {PRODUCTS_PER_SITE})::int AS rn,
                             1 + (random() < 0.2)::int + (random() < 0.05)::int AS quantity
                      FROM bo o CROSS JOIN LATERAL generate_series(1, o.n_lines) AS i) x
                JOIN bp p ON p.site_id = x.site_id AND p.rn = x.rn""",
            """INSERT INTO bol
                SELECT o.id, f.sku, f.title, 1, f.price FROM bo o JOIN bof f ON f.conversation_id = o.conversation_id
                WHERE f.status = 'accepted' AND f.sku <> ''""",
            "CREATE INDEX ON bol (order_id)",
            "ANALYZE bol",
            """UPDATE bo SET codes = jsonb_build_array(f.code)
               FROM (SELECT conversation_id, min(discount_code) AS code FROM bof
                     WHERE status = 'accepted' AND kind = 'discount' GROUP BY 1) f
               WHERE f.conversation_id = bo.conversation_id""",
            "UPDATE bo SET codes = '[\"WELCOME5\"]'::jsonb WHERE codes = '[]'::jsonb AND u < 0.05",
            """UPDATE bo SET subtotal = s.sub FROM (SELECT order_id, sum(quantity * unit_price) AS sub FROM bol GROUP BY 1) s
               WHERE s.order_id = bo.id""",
            """UPDATE bo SET total = round(subtotal * CASE WHEN codes <> '[]'::jsonb THEN 0.9 ELSE 1 END
                                           + CASE WHEN subtotal < 60 THEN 5.99 ELSE 0 END, 2)""",
            """UPDATE bo SET offer_revenue = CASE
                  WHEN EXISTS (SELECT 1 FROM bof f, jsonb_array_elements_text(bo.codes) AS d(code)
                               WHERE f.conversation_id = bo.conversation_id AND f.status = 'accepted'
                                 AND f.kind = 'discount' AND f.discount_code <> ''
                                 AND upper(trim(d.code)) = upper(trim(f.discount_code))) THEN total
                  ELSE COALESCE((SELECT sum(l.quantity * l.unit_price) FROM bol l
                                 WHERE l.order_id = bo.id AND l.sku <> ''
                                   AND l.sku IN (SELECT f.sku FROM bof f WHERE f.conversation_id = bo.conversation_id
                                                 AND f.status = 'accepted' AND f.sku <> '')), 0) END
               WHERE conversation_id IS NOT NULL""",
        )

        # --- intervention assignments (one per visitor) and their events ---------------------------
        shipping_time = "k.created_at + (k.last_activity - k.created_at) * (2.0 / (LEAST(k.idx0, 4) + 1))"
        step(
            "plan: interventions",
            f"""CREATE TEMP TABLE bia AS
                SELECT row_number() OVER (ORDER BY assigned_at, visitor_id) AS id, x.*,
                       CASE WHEN random() < bs.holdout THEN 'holdout' ELSE 'treatment' END AS arm,
                       (SELECT r.id FROM chatdesk_interventionrule r WHERE r.site_id = x.site_id AND r.trigger = x.trig) AS rule_id
                FROM (SELECT v.id AS visitor_id, v.site_id,
                             CASE WHEN k.idx0 >= 2 THEN 'shipping-shock' ELSE 'exit-intent' END AS trig,
                             LEAST(CASE WHEN k.idx0 >= 2 THEN {shipping_time} + interval '15 seconds'
                                        ELSE v.created_at + (1 + random() * 9) * interval '1 minute' END,
                                   {END} - interval '1 second') AS assigned_at
                      FROM chatdesk_visitor v LEFT JOIN bk k ON k.visitor_id = v.id
                      WHERE random() < CASE WHEN k.idx0 >= 2 THEN 0.5 ELSE 0.1 END) x
                JOIN bs ON bs.site_id = x.site_id""",
            f"""CREATE TEMP TABLE bie AS
                SELECT id AS assignment_id, rule_id, trig, 'triggered' AS action, assigned_at AS created_at FROM bia
                UNION ALL
                SELECT id, rule_id, trig, 'shown', assigned_at + interval '2 seconds' FROM bia
                WHERE arm = 'treatment' AND random() < 0.97""",
            f"""INSERT INTO bie
                SELECT assignment_id, rule_id, trig, CASE WHEN u < 0.12 THEN 'accepted' ELSE 'dismissed' END,
                       created_at + (5 + random() * 85) * interval '1 second'
                FROM (SELECT *, random() AS u FROM bie WHERE action = 'shown') s WHERE u < 0.57""",
            f"DELETE FROM bie WHERE created_at > {END}",
            "ANALYZE bia, bie",
            """UPDATE bc SET proactive = true FROM bia a JOIN bie e ON e.assignment_id = a.id AND e.action = 'accepted'
               WHERE a.visitor_id = bc.visitor_id AND bc.created_at >= e.created_at""",
        )

        # --- write the real tables, each once, in time order ----------------------------------------
        step("conversations", insert(
            "chatdesk_conversation", m.Conversation,
            ["id", "site_id", "visitor_id", "status", "agent_id", "team_id", "created_at", "queued_at", "assigned_at",
             "first_assigned_at", "first_agent_message_at", "last_message_at", "closed_at", "close_reason",
             "close_note", "last_seq", "priority_key", "priority_boost", "team_pinned", "wait_seconds", "over_target",
             "missed_at", "cart_id", "proactive", "rating", "rating_comment", "rated_at"],
            ["id", "site_id", "visitor_id", "status", "agent_id", "NULL", "created_at", "created_at", "fa", "fa", "fam",
             "last_message_at", "closed_at", "reason",
             "CASE WHEN reason <> '' AND mod(id, 9) = 0 THEN 'Shopper asked about ' || replace(reason, '_', ' ') ELSE '' END",
             "n", "CASE WHEN status = 'queued' THEN 100 + mod(id, 50) ELSE 0 END", "0", "false", "wait_secs",
             "over_target", "missed_at", "cart_id", "proactive", "rating",
             "CASE WHEN rating IS NOT NULL AND mod(id, 4) = 0 THEN 'Quick and helpful' ELSE '' END",
             "CASE WHEN rating IS NOT NULL THEN closed_at + interval '2 minutes' END"],
            "FROM bc ORDER BY id",
        ))
        step("carts", insert(
            "chatdesk_cart", m.Cart,
            ["id", "site_id", "cart_token", "visitor_id", "source", "currency", "items", "subtotal", "shipping", "tax",
             "discount", "total", "checkout_step", "max_step_reached", "email", "phone", "consent_email", "consent_sms",
             "recovery_url", "external_id", "created_at", "updated_at", "last_activity_at", "abandoned_at", "ordered_at"],
            ["id", "site_id", "'ct-' || visitor_id", "visitor_id", "CASE WHEN u_src < 0.85 THEN 'widget' ELSE 'store' END",
             "'USD'", "items", "subtotal", "CASE WHEN subtotal < 60 THEN 5.99 ELSE 0 END", "0", "0",
             "subtotal + CASE WHEN subtotal < 60 THEN 5.99 ELSE 0 END",
             "CASE WHEN ordered_at IS NOT NULL THEN 'complete' ELSE step0 END",
             "CASE WHEN ordered_at IS NOT NULL THEN 'complete' ELSE step0 END",
             "email", "phone", "consent_email", "consent_sms", "''", "CASE WHEN u_src >= 0.85 THEN 'chk_' || id ELSE '' END",
             "created_at", "GREATEST(last_activity, COALESCE(ordered_at, last_activity), COALESCE(abandoned0, last_activity))",
             "COALESCE(ordered_at, last_activity)",
             "CASE WHEN recovered_at IS NULL THEN abandoned0 END", "ordered_at"],
            "FROM bk ORDER BY id",
        ))
        step("cart events", insert(
            "chatdesk_cartevent", m.CartEvent, ["cart_id", "kind", "data", "source", "created_at"],
            ["cart_id", "kind", "data", "source", "created_at"],
            f"""FROM (
                  SELECT k.id AS cart_id, 'item_added' AS kind, k.items -> (i - 1) AS data,
                         CASE WHEN k.u_src < 0.85 THEN 'widget' ELSE 'store' END AS source,
                         k.created_at + (i - 1) * interval '20 seconds' AS created_at
                  FROM bk k CROSS JOIN LATERAL generate_series(1, k.n_items) AS i
                  UNION ALL
                  SELECT k.id, 'quantity_changed', jsonb_build_object('sku', k.items -> 0 ->> 'sku', 'quantity', 2),
                         'widget', k.created_at + interval '90 seconds' FROM bk k WHERE k.u_q < 0.2
                  UNION ALL
                  SELECT k.id, 'item_removed', jsonb_build_object('sku', k.items -> 0 ->> 'sku'), 'widget',
                         k.created_at + interval '120 seconds' FROM bk k WHERE k.u_r < 0.08
                  UNION ALL
                  SELECT k.id, 'step_changed', jsonb_build_object('from', ({steps_sql})[j], 'to', ({steps_sql})[j + 1]),
                         'widget', k.created_at + (k.last_activity - k.created_at) * (j::float8 / (LEAST(k.idx0, 4) + 1))
                  FROM bk k CROSS JOIN LATERAL generate_series(1, LEAST(k.idx0, 4)) AS j
                  UNION ALL
                  SELECT k.id, 'shipping_shown', jsonb_build_object('shipping', '5.99'), 'widget',
                         {shipping_time} + interval '5 seconds' FROM bk k WHERE k.idx0 >= 2
                  UNION ALL
                  SELECT k.id, 'discount_applied', jsonb_build_object('code', 'WELCOME5'), 'widget',
                         k.created_at + (k.last_activity - k.created_at) * 0.5 FROM bk k WHERE k.u_d < 0.06
                  UNION ALL
                  SELECT k.id, 'abandoned', jsonb_build_object('step', k.step0, 'total', k.subtotal::text), 'system',
                         k.abandoned0 FROM bk k WHERE k.abandoned0 IS NOT NULL
                  UNION ALL
                  SELECT k.id, 'step_changed', jsonb_build_object('from', ({steps_sql})[LEAST(k.idx0, 4) + 1], 'to', 'complete'),
                         'widget', k.ordered_at - interval '30 seconds' FROM bk k WHERE k.ordered_at IS NOT NULL
                  UNION ALL
                  SELECT k.id, 'ordered', '{{}}'::jsonb, 'store', k.ordered_at FROM bk k WHERE k.ordered_at IS NOT NULL
                ) e ORDER BY created_at, cart_id""",
        ))
        step("follow-ups", insert(
            "chatdesk_followup", m.FollowUp,
            ["cart_id", "step_id", "channel", "status", "skip_reason", "due_at", "sent_at", "recipient", "provider_id",
             "error", "clicked_at", "created_at"],
            ["cart_id", "step_id", "channel", "status", "skip_reason", "due_at", "sent_at", "recipient",
             "CASE WHEN status = 'sent' AND channel <> 'call' THEN 'prov-' || cart_id || '-' || step_id ELSE '' END",
             "''", "clicked_at", "created_at"],
            "FROM bf ORDER BY created_at, cart_id, step_id",
        ))
        step("orders", insert(
            "chatdesk_order", m.Order,
            ["id", "site_id", "order_id", "cart_id", "visitor_id", "source", "cart_token", "checkout_token", "currency",
             "total", "discount_codes", "email", "created_at", "received_at", "updated_at", "conversation_id",
             "attributed_at", "offer_revenue", "cancelled_at", "cancel_reason"],
            ["o.id", "o.site_id", "bs.prefix || '-' || (100000 + o.id)", "o.cart_id", "o.visitor_id",
             "CASE WHEN o.u < 0.6 THEN 'shopify' WHEN o.u < 0.85 THEN 'woocommerce' ELSE 'api' END",
             "o.cart_token", "''", "'USD'", "o.total", "o.codes", "o.email", "o.created_at",
             "o.created_at + interval '2 seconds'", "COALESCE(x.cancelled_at, o.created_at + interval '2 seconds')",
             "o.conversation_id", "CASE WHEN o.conversation_id IS NOT NULL THEN o.created_at + interval '3 seconds' END",
             "o.offer_revenue", "x.cancelled_at", "CASE WHEN x.cancelled_at IS NULL THEN '' ELSE x.reason END"],
            # About 3% cancelled or refunded within days (chatdesk.actions.orders.cancel_order): the row, its
            # lines and its attribution stay, and the default manager leaves it out of every figure.
            f"""FROM bo o JOIN bs ON bs.site_id = o.site_id
                CROSS JOIN LATERAL (SELECT CASE WHEN o.u2 < 0.03 AND cancel_at < {END} THEN cancel_at END AS cancelled_at,
                                           CASE WHEN o.u2 < 0.02 THEN 'cancelled' ELSE 'refunded' END AS reason
                                    FROM (SELECT o.created_at + (2 + o.u3 * 118) * interval '1 hour' AS cancel_at) c) x
                ORDER BY o.id""",
        ))
        step("order lines", insert(
            "chatdesk_orderline", m.OrderLine, ["order_id", "sku", "name", "quantity", "unit_price"],
            ["order_id", "sku", "name", "quantity", "unit_price"], "FROM bol ORDER BY order_id",
        ))
        step("offers", insert(
            "chatdesk_offer", m.Offer,
            ["id", "conversation_id", "agent_id", "client_id", "kind", "title", "sku", "price", "discount_code", "status",
             "created_at", "expires_at", "responded_at"],
            ["id", "conversation_id", "agent_id", "'of-' || conversation_id || '-' || k", "kind", "title", "sku", "price",
             "discount_code", "status", "created_at", "created_at + interval '60 minutes'",
             f"""CASE WHEN status IN ('accepted', 'declined')
                      THEN LEAST(created_at + (0.2 + u * 5) * interval '1 minute', {END}) END"""],
            "FROM bof ORDER BY id",
        ))
        step("intervention assignments", insert(
            "chatdesk_interventionassignment", m.InterventionAssignment,
            ["id", "visitor_id", "site_id", "arm", "first_trigger", "assigned_at"],
            ["id", "visitor_id", "site_id", "arm", "trig", "assigned_at"], "FROM bia ORDER BY id",
        ), insert(
            "chatdesk_interventionevent", m.InterventionEvent,
            ["assignment_id", "rule_id", "trigger", "action", "created_at"],
            ["assignment_id", "rule_id", "trig", "action", "created_at"], "FROM bie ORDER BY created_at, assignment_id",
        ))
        # Who held each claimed conversation (chatdesk.actions.conversations.assign_locked): one stretch each,
        # ended at the close; still open for the active ones.
        step("assignments", insert(
            "chatdesk_assignment", m.Assignment,
            ["conversation_id", "agent_id", "kind", "started_at", "ended_at", "end_reason"],
            ["id", "agent_id", "'claim'", "fa", "closed_at", "CASE WHEN closed_at IS NULL THEN '' ELSE 'closed' END"],
            "FROM bc WHERE fa IS NOT NULL ORDER BY fa, id",
        ))
        step("sequences", *[
            f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), GREATEST((SELECT max(id) FROM {t}), 1))"
            for t in ("chatdesk_visitor", "chatdesk_conversation", "chatdesk_cart", "chatdesk_order", "chatdesk_offer",
                      "chatdesk_interventionassignment")
        ])
        for t in TEMP_TABLES:
            cur.execute(f"DROP TABLE IF EXISTS pg_temp.{t}")
        t0 = time.perf_counter()
    # Deferred foreign-key checks run at this commit: part of the build's cost.
    timings["commit (deferred FK checks)"] = round(time.perf_counter() - t0, 3)

    counts = table_counts()
    log(f"built {counts['chatdesk_conversation']:,} conversations, {counts['chatdesk_message']:,} messages "
        f"in {sum(timings.values()):.1f} s")
    return {"start": start.isoformat(), "end": end.isoformat(), "timings_s": timings, "counts": counts,
            "notes": notes, "params": {"conversations": N, "messages": M, "days": days, "visitors": V,
                                       "agents": setup["agents"], "sites": len(sites), "seed": seed}}


COUNTED_TABLES = [
    "chatdesk_site", "auth_user", "chatdesk_visitor", "chatdesk_conversation", "chatdesk_message", "chatdesk_cart",
    "chatdesk_cartevent", "chatdesk_order", "chatdesk_orderline", "chatdesk_offer", "chatdesk_followup",
    "chatdesk_interventionassignment", "chatdesk_interventionevent", "chatdesk_assignment",
]


def table_counts() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cur:
        out = {}
        for t in COUNTED_TABLES:
            cur.execute(f"SELECT count(*) FROM {t}")
            out[t] = cur.fetchone()[0]
    return out


def shape() -> dict:
    """A few proportions of the built data, so a reader can judge whether it looks like a real desk."""
    from django.db import connection

    queries = {
        "conversations_by_status": "SELECT status, count(*) FROM chatdesk_conversation GROUP BY 1 ORDER BY 1",
        "messages_by_sender": "SELECT sender, count(*) FROM chatdesk_message GROUP BY 1 ORDER BY 1",
        "carts_by_max_step": "SELECT max_step_reached, count(*) FROM chatdesk_cart GROUP BY 1 ORDER BY 1",
        "cart_events_by_kind": "SELECT kind, count(*) FROM chatdesk_cartevent GROUP BY 1 ORDER BY 1",
        "offers_by_kind": "SELECT kind, count(*) FROM chatdesk_offer GROUP BY 1 ORDER BY 1",
        "offers_by_status": "SELECT status, count(*) FROM chatdesk_offer GROUP BY 1 ORDER BY 1",
        "orders_attributed": "SELECT (conversation_id IS NOT NULL)::text, count(*) FROM chatdesk_order GROUP BY 1",
        "orders_cancelled": "SELECT COALESCE(NULLIF(cancel_reason, ''), 'placed'), count(*) FROM chatdesk_order GROUP BY 1",
        "conversations_over_target": "SELECT over_target::text, count(*) FROM chatdesk_conversation GROUP BY 1",
        "followups_by_status": "SELECT channel || ' ' || status, count(*) FROM chatdesk_followup GROUP BY 1 ORDER BY 1",
        "assignments_by_arm": "SELECT arm, count(*) FROM chatdesk_interventionassignment GROUP BY 1 ORDER BY 1",
        "conversations_by_site": """SELECT s.key, count(*) FROM chatdesk_conversation c JOIN chatdesk_site s
                                    ON s.id = c.site_id GROUP BY 1 ORDER BY 1""",
    }
    out = {}
    with connection.cursor() as cur:
        for name, sql in queries.items():
            cur.execute(sql)
            out[name] = {str(k): v for k, v in cur.fetchall()}
    return out


# Each query counts rows that break a rule the app keeps; a sound build gives 0 everywhere.
INVARIANTS = {
    "first_agent_message_at is not the first agent message": """
        SELECT count(*) FROM chatdesk_conversation c WHERE c.first_agent_message_at IS NOT NULL
          AND c.first_agent_message_at IS DISTINCT FROM (SELECT min(m.created_at) FROM chatdesk_message m
                                                       WHERE m.conversation_id = c.id AND m.sender = 'agent')""",
    "agent message in a conversation without first_agent_message_at": """
        SELECT count(*) FROM chatdesk_conversation c WHERE c.first_agent_message_at IS NULL
          AND EXISTS (SELECT 1 FROM chatdesk_message m WHERE m.conversation_id = c.id AND m.sender = 'agent')""",
    "last_seq / last_message_at differ from the messages (seq 1..n)": """
        SELECT count(*) FROM chatdesk_conversation c
        LEFT JOIN (SELECT conversation_id, count(*) AS n, max(seq) AS top, max(created_at) AS last
                   FROM chatdesk_message GROUP BY 1) m ON m.conversation_id = c.id
        WHERE m.n IS NULL OR c.last_seq <> m.n OR m.top <> m.n OR c.last_message_at IS DISTINCT FROM m.last""",
    "messages out of time order": """
        SELECT count(*) FROM (SELECT created_at < lag(created_at) OVER (PARTITION BY conversation_id ORDER BY seq) AS back
                              FROM chatdesk_message) s WHERE back""",
    "negative wait or first response": """
        SELECT count(*) FROM chatdesk_conversation
        WHERE first_assigned_at < created_at OR first_agent_message_at < first_assigned_at
           OR (first_agent_message_at IS NOT NULL AND first_assigned_at IS NULL)""",
    "status disagrees with closed_at, missed_at or the agent": """
        SELECT count(*) FROM chatdesk_conversation
        WHERE (status = 'closed') <> (closed_at IS NOT NULL) OR (status = 'missed') <> (missed_at IS NOT NULL)
           OR (status IN ('active', 'closed')) <> (agent_id IS NOT NULL)""",
    "wait_seconds / over_target are not what _leave_queue records": """
        SELECT count(*) FROM chatdesk_conversation c JOIN chatdesk_site s ON s.id = c.site_id
        WHERE c.wait_seconds IS DISTINCT FROM
                floor(extract(epoch FROM COALESCE(c.first_assigned_at, c.missed_at) - c.created_at))::int
           OR c.over_target <> COALESCE(extract(epoch FROM COALESCE(c.first_assigned_at, c.missed_at) - c.queued_at)
                                        > s.target_wait_seconds, false)""",
    "claimed conversation without its assignment": """
        SELECT count(*) FROM chatdesk_conversation c WHERE c.first_assigned_at IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM chatdesk_assignment a WHERE a.conversation_id = c.id AND a.agent_id = c.agent_id
                          AND a.started_at = c.first_assigned_at AND a.ended_at IS NOT DISTINCT FROM c.closed_at)""",
    "order attribution is not METRICS.md's last touch": """
        SELECT count(*) FROM chatdesk_order o LEFT JOIN chatdesk_cart k ON k.id = o.cart_id
        JOIN chatdesk_site s ON s.id = o.site_id
        WHERE o.conversation_id IS DISTINCT FROM (
          SELECT c.id FROM chatdesk_conversation c
          WHERE c.site_id = o.site_id AND c.visitor_id IN (o.visitor_id, k.visitor_id)
            AND c.created_at < o.created_at AND c.created_at >= o.created_at - s.attribution_window_hours * interval '1 hour'
            AND EXISTS (SELECT 1 FROM chatdesk_message m WHERE m.conversation_id = c.id AND m.sender = 'agent')
          ORDER BY c.created_at DESC, c.id DESC LIMIT 1)""",
    "cart both abandoned and ordered": "SELECT count(*) FROM chatdesk_cart WHERE abandoned_at IS NOT NULL AND ordered_at IS NOT NULL",
    "abandoned cart without its event": """
        SELECT count(*) FROM chatdesk_cart k WHERE k.abandoned_at IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM chatdesk_cartevent e WHERE e.cart_id = k.id AND e.kind = 'abandoned'
                          AND e.created_at = k.abandoned_at)""",
    "ordered cart without its order": """
        SELECT count(*) FROM chatdesk_cart k WHERE k.ordered_at IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM chatdesk_order o WHERE o.cart_id = k.id AND o.created_at = k.ordered_at)""",
    "follow-up sent after the cart's order": """
        SELECT count(*) FROM chatdesk_followup f JOIN chatdesk_cart k ON k.id = f.cart_id
        WHERE f.sent_at > k.ordered_at""",
    "offer before the agent's first message": """
        SELECT count(*) FROM chatdesk_offer f JOIN chatdesk_conversation c ON c.id = f.conversation_id
        WHERE c.first_agent_message_at IS NULL OR f.created_at < c.first_agent_message_at OR f.agent_id <> c.agent_id""",
    "row dated after the build's end": """
        SELECT (SELECT count(*) FROM chatdesk_message WHERE created_at > now())
             + (SELECT count(*) FROM chatdesk_order WHERE created_at > now())
             + (SELECT count(*) FROM chatdesk_cartevent WHERE created_at > now())""",
}


def check() -> dict[str, int]:
    """Count the rows that break each of INVARIANTS (all 0 for a sound build)."""
    from django.db import connection

    out = {}
    with connection.cursor() as cur:
        for name, sql in INVARIANTS.items():
            cur.execute(sql)
            out[name] = cur.fetchone()[0]
    return out
