"""Doors for follow-ups: recovery links, the cart-restore JSON, unsubscribe, inbound SMS, and the call list API.

Thin views: parse, authenticate, call one function in chatdesk.actions.followups
or chatdesk.actions.calls, reply.
"""
from __future__ import annotations

import json
import logging

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .actions import calls, followups
from .errors import ActionError
from .models import Site, site_origin_allowed
from .sms import is_stop_word, verify_twilio_signature

log = logging.getLogger(__name__)


# --- recovery links ----------------------------------------------------------------

@never_cache
@require_GET
def recover(request, token):
    """`/r/<token>/`: record the click, then send the shopper to their cart."""
    fu = followups.followup_from_token(token)
    if fu is None:
        return render(request, "followups/link_invalid.html", status=404)
    followups.record_click(fu)
    return HttpResponseRedirect(followups.recovery_target(fu, token))


@never_cache
@require_GET
def recover_cart(request, token):
    """`/r/<token>/cart.json`: the cart to restore, readable by the site's own pages (CORS for its origins)."""
    fu = followups.followup_from_token(token)
    if fu is None:
        return JsonResponse({"detail": "this recovery link is invalid or has expired"}, status=404)
    response = JsonResponse(followups.restore_payload(fu))
    origin = request.headers.get("Origin")
    if origin and site_origin_allowed(fu.cart.site, origin):
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
    return response


# --- unsubscribe (RFC 8058 one-click) ------------------------------------------------

@csrf_exempt  # the one-click POST comes from the mail provider, with no cookie; the signed token is the proof
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """GET shows a confirmation button (link scanners must not unsubscribe anyone); POST unsubscribes."""
    data = followups.read_unsubscribe_token(token)
    site = Site.objects.filter(pk=data["s"]).first() if data else None
    if site is None:
        return render(request, "followups/link_invalid.html", status=404)
    ctx = {"site": site, "address": data["a"], "channel": data["c"], "token": token}
    if request.method == "POST":
        followups.opt_out(site, data["c"], data["a"], "email_link")
        return render(request, "followups/unsubscribed.html", ctx)
    return render(request, "followups/unsubscribe.html", ctx)


# --- inbound SMS (Twilio) ------------------------------------------------------------

TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@csrf_exempt
@require_POST
def twilio_inbound(request, site_key):
    """`/hooks/sms/twilio/<site_key>/`: an opt-out word (STOP, UNSUBSCRIBE, ...) stops texts and calls to that phone."""
    site = Site.objects.filter(key=site_key).first()
    if site is None:
        return JsonResponse({"detail": "unknown site"}, status=404)
    params = request.POST.dict()
    if settings.TWILIO_AUTH_TOKEN:
        # Twilio signs the URL it called (the public one, behind the proxy) and the form fields.
        url = settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()
        if not verify_twilio_signature(settings.TWILIO_AUTH_TOKEN, url, params,
                                       request.headers.get("X-Twilio-Signature", "")):
            return JsonResponse({"detail": "bad or missing X-Twilio-Signature"}, status=401)
    elif not settings.DEBUG:
        return JsonResponse({"detail": "inbound SMS needs TWILIO_AUTH_TOKEN"}, status=403)
    sender = params.get("From", "")
    if is_stop_word(params.get("Body", "")) and sender:
        followups.opt_out(site, followups.SMS, sender, "sms_stop")
        log.info("SMS opt-out from %s for site %s", sender, site.key)
    # Empty TwiML: Twilio's own opt-out handling sends the confirmation text.
    return HttpResponse(TWIML_EMPTY, content_type="text/xml")


# --- call list (agent session) -------------------------------------------------------

def _json_error(err: ActionError, status: int) -> JsonResponse:
    body = {"detail": err.detail, "code": err.code}
    if err.field:
        body["field"] = err.field
    return JsonResponse(body, status=status)


STATUS_OF = {"not_found": 404, "forbidden": 403}


def _agent_view(fn):
    def view(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"detail": "log in first"}, status=401)
        if not hasattr(request.user, "agent_profile"):
            return JsonResponse({"detail": "call tasks are for agents"}, status=403)
        try:
            return fn(request, *args, **kwargs)
        except ActionError as err:
            return _json_error(err, STATUS_OF.get(err.code, 400))
    view.__name__ = fn.__name__
    view.__doc__ = fn.__doc__
    return never_cache(view)


@_agent_view
@require_GET
def call_task_list(request):
    """GET `/console/api/call-tasks/?status=open|done|all`: the call list of the agent's sites."""
    return JsonResponse({"call_tasks": calls.call_list(request.user, request.GET.get("status", "open"))})


@_agent_view
@require_http_methods(["GET", "POST"])
def call_task_detail(request, task_id):
    """GET one call task; POST `{"outcome": ..., "note": ...}` records how the call went."""
    if request.method == "POST":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            raise ActionError("invalid_json", "the body must be a JSON object") from None
        if not isinstance(body, dict):
            raise ActionError("invalid_json", "the body must be a JSON object")
        task = calls.record_call_outcome(request.user, task_id, body.get("outcome"), body.get("note", ""))
    else:
        task = calls.get_call_task(request.user, task_id)
    return JsonResponse({"call_task": calls.call_task_dict(task)})
