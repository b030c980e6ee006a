"""Call tasks: the agents' call list for abandoned carts, with the cart and journey beside each, and outcomes."""
from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..errors import ActionError
from ..events import emit, site_agents_group
from ..models import CallTask, CartEvent, Conversation, PageView
from ..serialize import agent_ref, cart_dict, iso
from .followups import CALL, _ordered, email_contact, is_opted_out, opt_out

OUTCOMES = [o for o, _ in CallTask.OUTCOME_CHOICES]
# Outcomes that mean the shopper was contacted (what METRICS.md's "contacted" needs).
CONTACT_OUTCOMES = {CallTask.REACHED, CallTask.VOICEMAIL, CallTask.RECOVERED}
MAX_NOTE = 2000


def _agent_site_ids(user) -> list[int]:
    profile = getattr(user, "agent_profile", None)
    if profile is None:
        raise ActionError("forbidden", "call tasks are for agents")
    return list(profile.sites.values_list("id", flat=True))


def _tasks_for(user):
    return CallTask.objects.filter(cart__site_id__in=_agent_site_ids(user)).select_related(
        "cart__site", "cart__visitor", "followup__step", "agent__agent_profile"
    )


def journey(cart, limit: int = 40) -> list[dict]:
    """What the shopper did, oldest first: cart events and, for a known visitor, the pages they saw."""
    items = [
        {"at": iso(e.created_at), "kind": e.kind, "data": e.data, "source": e.source}
        for e in CartEvent.objects.filter(cart=cart).order_by("-created_at", "-id")[:limit]
    ]
    if cart.visitor_id:
        items += [
            {"at": iso(p.created_at), "kind": "page", "data": {"url": p.url, "title": p.title,
                                                                "checkout_step": p.checkout_step or None}}
            for p in PageView.objects.filter(visitor_id=cart.visitor_id).order_by("-created_at", "-id")[:limit]
        ]
    items.sort(key=lambda i: i["at"] or "")
    return items[-limit:]


def call_task_dict(task: CallTask, detail: bool = True) -> dict:
    cart, fu = task.cart, task.followup
    visitor = cart.visitor
    data = {
        "id": task.id,
        "site": cart.site.key,
        "status": "done" if task.done_at else "open",
        "created_at": iso(task.created_at),
        "due_at": iso(fu.due_at),
        "outcome": task.outcome or None,
        "note": task.note,
        "done_at": iso(task.done_at),
        "agent": agent_ref(task.agent),
        "contact": {
            "name": visitor.name if visitor else "",
            "phone": fu.recipient,
            "email": email_contact(cart).address,
        },
        "visitor_id": str(visitor.public_id) if visitor else None,
        "cart": cart_dict(cart),
        # How far the checkout got (the cart's own step may have gone back since): what the agent asks about.
        "reached_step": cart.max_step_reached or cart.checkout_step or None,
        "abandoned_at": iso(cart.abandoned_at),
        # Shown so that nobody calls a shopper who has since ordered or asked not to be contacted.
        "ordered": _ordered(cart),
        "opted_out": is_opted_out(cart.site_id, CALL, fu.recipient),
    }
    if detail:
        data["journey"] = journey(cart)
        data["followups"] = [
            {"channel": f.channel, "status": f.status, "due_at": iso(f.due_at), "sent_at": iso(f.sent_at),
             "clicked_at": iso(f.clicked_at), "skip_reason": f.skip_reason or None}
            for f in cart.followups.order_by("due_at", "id")
        ]
        mine = Q(cart=cart) | Q(visitor_id=cart.visitor_id) if cart.visitor_id else Q(cart=cart)
        data["conversations"] = [
            {"id": c.id, "status": c.status, "created_at": iso(c.created_at), "close_reason": c.close_reason or None}
            for c in Conversation.objects.filter(mine).order_by("-created_at")[:10]
        ]
    return data


def call_list(user, status: str = "open", limit: int = 100) -> list[dict]:
    """The call tasks of the agent's sites: `open` (oldest due first), `done` (latest first) or `all`."""
    if status not in ("open", "done", "all"):
        raise ActionError("invalid_field", "'status' must be open, done or all", "status")
    tasks = _tasks_for(user)
    if status == "open":
        tasks = tasks.filter(done_at__isnull=True).order_by("followup__due_at", "id")
    elif status == "done":
        tasks = tasks.filter(done_at__isnull=False).order_by("-done_at", "-id")
    else:
        tasks = tasks.order_by("-created_at", "-id")
    return [call_task_dict(t) for t in tasks[:limit]]


def get_call_task(user, task_id: int) -> CallTask:
    task = _tasks_for(user).filter(pk=task_id).first()
    if task is None:
        raise ActionError("not_found", f"call task {task_id} does not exist")
    return task


def record_call_outcome(user, task_id: int, outcome, note="") -> CallTask:
    """Record how a call went; may be corrected later. A wrong number is opted out of calls and texts."""
    if outcome not in OUTCOMES:
        raise ActionError("invalid_field", f"'outcome' must be one of {', '.join(OUTCOMES)}", "outcome")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise ActionError("invalid_field", f"'note' must be a string of at most {MAX_NOTE} characters", "note")
    now = timezone.now()
    with transaction.atomic():
        task = get_call_task(user, task_id)
        task = CallTask.objects.select_for_update(of=("self",)).select_related(
            "cart__site", "cart__visitor", "followup__step", "agent__agent_profile").get(pk=task.pk)
        task.outcome, task.note, task.agent = outcome, note.strip(), user
        task.done_at = task.done_at or now
        task.save(update_fields=["outcome", "note", "agent", "done_at"])
        fu = task.followup
        # The follow-up's sent_at is "when the shopper was contacted": only a call that reached them counts.
        fu.sent_at = (fu.sent_at or now) if outcome in CONTACT_OUTCOMES else None
        fu.save(update_fields=["sent_at"])
        if outcome == CallTask.WRONG_NUMBER:
            opt_out(task.cart.site_id, CALL, fu.recipient, "wrong_number")
        emit(site_agents_group(task.cart.site_id),
             {"type": "call_task", "call_task": {"id": task.id, "status": "done", "outcome": outcome}})
    return task
