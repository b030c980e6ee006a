"""Who may do what outside the sockets: the supervisors group and its permissions."""
from django.contrib.auth.models import Permission

SUPERVISOR_MODELS = {
    "chatdesk": ["site", "product", "visitor", "conversation", "message", "note", "cart", "cartsnapshot",
                 "cartevent", "order", "orderline", "offer", "pageview"],
    "agents": ["agentprofile", "team", "cannedreply"],
}


def grant_supervisor_permissions(group) -> None:
    perms = Permission.objects.filter(
        content_type__app_label__in=SUPERVISOR_MODELS.keys(),
    )
    wanted = [p for p in perms if p.content_type.model in SUPERVISOR_MODELS[p.content_type.app_label]]
    group.permissions.set(wanted)


def is_supervisor(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.groups.filter(name="supervisors").exists()))
