"""The admin as supervisors and agents meet it: every model there, exact group permissions, history read-only,
close and reassign through the actions (sockets told), agents limited to their sites' canned replies."""
from __future__ import annotations

import orjson
import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from agents.models import CannedReply
from chatdesk.events import agent_group, collecting, visitor_group
from chatdesk.models import Conversation, Message, Note
from chatdesk.permissions import (
    AGENT_PERMISSIONS, SUPERVISOR_PERMISSIONS, grant_agent_admin, sync_groups,
)

from .report_history import build_history, make_agent

pytestmark = pytest.mark.django_db
APPS = ("chatdesk", "agents")


def codenames(table):
    return {f"{app}.{action}_{model}" for app, models in table.items() for model, actions in models.items()
            for action in actions}


def group_perms(name):
    return {f"{p.content_type.app_label}.{p.codename}" for p in Group.objects.get(name=name).permissions.all()}


@pytest.fixture
def sam(db):
    supervisors, _ = sync_groups()
    user = get_user_model().objects.create(username="sam", first_name="Sam", is_staff=True)
    user.groups.add(supervisors)
    return user


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_every_model_has_an_admin_and_a_decision_in_the_supervisor_table():
    for app in APPS:
        for model in apps.get_app_config(app).get_models():
            name = model._meta.model_name
            assert model in admin.site._registry, f"{app}.{name} has no admin (chatdesk/admin.py, agents/admin.py)"
            assert name in SUPERVISOR_PERMISSIONS.get(app, {}), (
                f"decide what supervisors may do with {app}.{name} in chatdesk/permissions.py")


def test_groups_hold_exactly_the_listed_permissions(db):
    sync_groups()
    assert group_perms("supervisors") == codenames(SUPERVISOR_PERMISSIONS)
    assert group_perms("agents") == codenames(AGENT_PERMISSIONS) == {
        "agents.view_cannedreply", "agents.add_cannedreply", "agents.change_cannedreply", "agents.delete_cannedreply"}
    # Nothing about accounts, and no editing of history.
    assert not any(p.startswith("auth.") for p in group_perms("supervisors"))
    for history in ("message", "note", "offer", "order", "orderline", "cart", "cartevent", "cartsnapshot"):
        assert f"chatdesk.change_{history}" not in group_perms("supervisors")


def test_a_supervisor_can_open_every_list_and_record_in_the_admin(sam):
    build_history()
    client = client_for(sam)
    assert client.get("/admin/").status_code == 200
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in APPS:
            continue
        opts = model._meta
        listing = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert listing.status_code == 200, f"{opts.label} list: {listing.status_code}"
        obj = model.objects.first()
        if obj is not None:
            page = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
            assert page.status_code == 200, f"{opts.label} page: {page.status_code}"


def test_history_cannot_be_added_changed_or_deleted_by_a_supervisor(sam):
    history = build_history()
    client = client_for(sam)
    conv = history["conversations"][1]
    message = Message.objects.create(conversation=conv, seq=1, sender="shopper", text="hi", created_at=conv.created_at)
    order = history["orders"][1]
    for model_name, pk in (("message", message.pk), ("order", order.pk), ("offer", history["offers"][0].pk),
                           ("cart", history["carts"][1].pk)):
        change = reverse(f"admin:chatdesk_{model_name}_change", args=[pk])
        page = client.get(change)
        assert page.status_code == 200 and b'name="_save"' not in page.content, model_name
        assert client.post(change, {"text": "rewritten", "total": "1.00"}).status_code == 403, model_name
        assert client.get(reverse(f"admin:chatdesk_{model_name}_add")).status_code == 403, model_name
        assert client.post(reverse(f"admin:chatdesk_{model_name}_delete", args=[pk]), {"post": "yes"}).status_code == 403
    message.refresh_from_db()
    assert message.text == "hi"
    # A conversation's page shows its messages, notes and offers, and is read-only too.
    page = client.get(reverse("admin:chatdesk_conversation_change", args=[conv.pk]))
    assert b"Messages" in page.content and b"Offers" in page.content and b'name="_save"' not in page.content


def _post_action(client, action, ids, **fields):
    data = {"action": action, "_selected_action": [str(i) for i in ids], **fields}
    return client.post(reverse("admin:chatdesk_conversation_changelist"), data)


def test_closing_from_the_admin_goes_through_the_action_and_tells_the_shopper_and_agent(
        sam, django_capture_on_commit_callbacks):
    history = build_history()
    open_conv = history["conversations"][6]  # active, alice
    client = client_for(sam)
    form = _post_action(client, "close_conversations", [open_conv.pk])
    assert form.status_code == 200 and b"Close them" in form.content
    with collecting() as sent, django_capture_on_commit_callbacks(execute=True):
        done = _post_action(client, "close_conversations", [open_conv.pk, history["conversations"][1].pk],
                            apply="1", reason="just_browsing", note="left hours ago")
    assert done.status_code == 302
    open_conv.refresh_from_db()
    assert (open_conv.status, open_conv.close_reason, open_conv.close_note) == ("closed", "just_browsing", "left hours ago")
    assert Note.objects.filter(conversation=open_conv, text__startswith="Closed by Sam (supervisor)").exists()
    frames = [(group, orjson.loads(event["text"])) for group, event in sent]
    assert (visitor_group(open_conv.visitor.public_id),
            {"type": "closed", "conversation_id": open_conv.pk, "reason": "just_browsing"}) in frames
    assert any(g == agent_group(history["alice"].pk) and f["type"] == "conversation" and f["conversation"]["status"] == "closed"
               for g, f in frames)


def test_reassigning_from_the_admin_moves_the_conversation_and_respects_capacity(
        sam, django_capture_on_commit_callbacks):
    history = build_history()
    conv = history["conversations"][6]  # active with alice on shop-a
    bob = history["bob"]
    client = client_for(sam)
    form = _post_action(client, "reassign_conversations", [conv.pk])
    assert b"Bob (offline, 0/5)" in form.content
    with collecting() as sent, django_capture_on_commit_callbacks(execute=True):
        _post_action(client, "reassign_conversations", [conv.pk], apply="1", to_agent=str(bob.pk))
    conv.refresh_from_db()
    assert (conv.status, conv.agent_id) == ("active", bob.pk)
    frames = [(group, orjson.loads(event["text"])) for group, event in sent]
    assert (visitor_group(conv.visitor.public_id),
            {"type": "assigned", "conversation_id": conv.pk, "agent": {"name": "Bob"}}) in frames
    assert any(g == agent_group(history["alice"].pk) and f["type"] == "conversation" for g, f in frames)
    # Bob full: the action refuses and says why; nothing moves.
    bob.agent_profile.capacity = 1
    bob.agent_profile.save()
    other = Conversation.objects.create(site=conv.site, visitor=history["visitors"][30], status="queued",
                                        queued_at=conv.created_at)
    response = _post_action(client, "reassign_conversations", [other.pk], apply="1", to_agent=str(bob.pk))
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("at capacity" in m for m in messages)
    other.refresh_from_db()
    assert (other.status, other.agent_id) == ("queued", None)


def test_export_csv_action_writes_the_listed_columns(sam):
    history = build_history()
    client = client_for(sam)
    ids = [o.pk for o in history["orders"].values()]
    response = client.post(reverse("admin:chatdesk_order_changelist"),
                           {"action": "export_csv", "_selected_action": [str(i) for i in ids]})
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("Order id,Site,Total,Currency,Created at,Attributed to")
    assert len(lines) == 1 + len(ids)
    assert any(line.startswith("O1,") and "conversation" in line for line in lines)


def test_an_agent_gets_only_their_sites_canned_replies_and_403_elsewhere(db):
    history = build_history()
    shop_a, shop_b = history["sites"]
    carol = make_agent("carol", shop_b)
    grant_agent_admin(carol)
    mine = CannedReply.objects.create(site=shop_b, shortcut="hi", title="Hi", text="Hello!")
    theirs = CannedReply.objects.create(site=shop_a, shortcut="bye", title="Bye", text="Goodbye")
    client = client_for(carol)
    listing = client.get("/admin/agents/cannedreply/")
    assert listing.status_code == 200 and b"/hi" in listing.content and b"/bye" not in listing.content
    assert client.get(f"/admin/agents/cannedreply/{mine.pk}/change/").status_code == 200
    assert client.get(f"/admin/agents/cannedreply/{theirs.pk}/change/").status_code == 302  # "does not exist"
    refused = client.post("/admin/agents/cannedreply/add/", {"site": shop_a.pk, "shortcut": "x", "title": "X", "text": "x"})
    assert refused.status_code == 200 and not CannedReply.objects.filter(shortcut="x").exists()
    added = client.post("/admin/agents/cannedreply/add/", {"site": shop_b.pk, "shortcut": "y", "title": "Y", "text": "y"})
    assert added.status_code == 302 and CannedReply.objects.filter(shortcut="y", site=shop_b).exists()
    for path in ("/admin/chatdesk/conversation/", "/admin/chatdesk/order/", "/admin/agents/agentprofile/",
                 "/admin/chatdesk/site/", "/admin/auth/user/", f"/admin/chatdesk/conversation/{history['conversations'][1].pk}/change/"):
        assert client.get(path).status_code == 403, path


def test_an_agent_without_admin_access_and_anonymous_users_are_sent_to_the_admin_login(db):
    history = build_history()
    assert Client().get("/admin/chatdesk/conversation/").status_code == 302
    response = client_for(history["alice"]).get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_supervisor_does_not_see_the_webhook_secret_or_change_the_site_key(sam):
    shop_a, _ = build_history()["sites"]
    page = client_for(sam).get(reverse("admin:chatdesk_site_change", args=[shop_a.pk]))
    assert page.status_code == 200
    assert b"secret-shop-a" not in page.content and b'name="key"' not in page.content
    assert b'name="target_wait_seconds"' in page.content


def test_supervision_actions_refuse_non_supervisors_closed_conversations_and_bad_reasons(sam):
    from chatdesk.actions.supervision import supervisor_close, supervisor_reassign
    from chatdesk.errors import ActionError

    history = build_history()
    active, closed = history["conversations"][6], history["conversations"][1]
    with pytest.raises(ActionError) as err:
        supervisor_close(history["alice"], active.pk, "other")
    assert err.value.code == "forbidden"
    with pytest.raises(ActionError) as err:
        supervisor_close(sam, closed.pk, "other")
    assert err.value.code == "conversation_closed"
    with pytest.raises(ActionError) as err:
        supervisor_close(sam, active.pk, "bored")
    assert err.value.code == "invalid_field"
    carol = make_agent("carol", history["sites"][1])  # serves shop-b only
    with pytest.raises(ActionError) as err:
        supervisor_reassign(sam, active.pk, carol)
    assert err.value.code == "forbidden"
    with pytest.raises(ActionError) as err:
        supervisor_reassign(sam, active.pk, history["alice"])
    assert err.value.code == "invalid_field"
    active.refresh_from_db()
    assert (active.status, active.agent_id) == ("active", history["alice"].pk)
    assert not Note.objects.filter(conversation=active).exists()


def test_the_site_admin_shows_every_setting_a_site_has():
    from chatdesk.admin import SiteAdmin
    from chatdesk.models import Site

    shown = {f for _, opts in SiteAdmin.fieldsets for f in opts["fields"]}
    editable = {f.name for f in Site._meta.fields if f.editable and not f.primary_key}
    assert editable <= shown, f"add {editable - shown} to SiteAdmin.fieldsets"
