"""Who may do what outside the sockets: the `supervisors` and `agents` groups and exactly their permissions.

Supervisors run the floor: they read everything, close and reassign
conversations (through chatdesk.actions.supervision, from the admin), and
maintain what shapes the service (catalogue, teams, canned replies,
intervention rules, follow-up schedule, site settings). They do not edit
history (messages, notes, offers, orders, carts and their events) and do not
manage user accounts: that stays with superusers. Agents get the admin only
for their own sites' canned replies. `sync_groups` runs after every
migrate, so the groups always match these tables.
"""
from django.contrib.auth.models import Group, Permission

VIEW = ("view",)
ALL = ("view", "add", "change", "delete")

SUPERVISOR_PERMISSIONS = {
    "chatdesk": {
        "site": ("view", "change"),          # settings; keys and secrets stay hidden (see admin)
        "product": ALL,
        "visitor": VIEW,
        "pageview": VIEW,
        "conversation": ("view", "change"),  # "change" = the close and reassign actions; fields are read-only
        "message": VIEW,
        "note": VIEW,
        "cart": VIEW,
        "cartsnapshot": VIEW,
        "cartevent": VIEW,
        "order": VIEW,
        "orderline": VIEW,
        "offer": VIEW,
        "interventionrule": ALL,
        "interventionassignment": VIEW,
        "interventionevent": VIEW,
        "webhookdelivery": VIEW,
        "followupstep": ALL,
        "followup": VIEW,
        "calltask": ("view", "change"),      # record a call's outcome
        "contactoptout": ("view", "add"),    # an opt-out given by phone; never removed from here
        "assignment": VIEW,                  # who held a conversation when: history
        "leftmessage": ("view", "change"),   # follow up a message left while closed (status, agent, note)
    },
    "agents": {
        "agentprofile": ("view", "change"),  # capacity, sites, teams; accounts are made by superusers
        "team": ALL,
        "cannedreply": ALL,
    },
}

AGENT_PERMISSIONS = {
    "agents": {"cannedreply": ALL},  # limited to the agent's own sites by CannedReplyAdmin
}

# Kept for callers written against the first version (seed_demo).
SUPERVISOR_MODELS = {app: list(models) for app, models in SUPERVISOR_PERMISSIONS.items()}


def _permissions(table: dict) -> list[Permission]:
    wanted = {
        (app, f"{action}_{model}")
        for app, models in table.items() for model, actions in models.items() for action in actions
    }
    perms = Permission.objects.filter(content_type__app_label__in=table.keys()).select_related("content_type")
    return [p for p in perms if (p.content_type.app_label, p.codename) in wanted]


def grant_supervisor_permissions(group) -> None:
    group.permissions.set(_permissions(SUPERVISOR_PERMISSIONS))


def grant_agent_permissions(group) -> None:
    group.permissions.set(_permissions(AGENT_PERMISSIONS))


def sync_groups() -> tuple[Group, Group]:
    """Create or correct the `supervisors` and `agents` groups (idempotent)."""
    supervisors, _ = Group.objects.get_or_create(name="supervisors")
    grant_supervisor_permissions(supervisors)
    agents, _ = Group.objects.get_or_create(name="agents")
    grant_agent_permissions(agents)
    return supervisors, agents


def grant_agent_admin(user, agents: Group | None = None) -> None:
    """Let an agent into the admin for their sites' canned replies (and nothing else)."""
    if agents is None:
        _, agents = sync_groups()
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    user.groups.add(agents)


def is_supervisor(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.groups.filter(name="supervisors").exists()))
