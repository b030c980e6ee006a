"""The console page: a shell that the console script fills from `/ws/console/`."""
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from .models import AgentProfile


@login_required
def console(request):
    profile = AgentProfile.objects.filter(user=request.user).first()
    if profile is None:
        raise PermissionDenied("The console is for agents.")
    return render(request, "agents/console.html", {"profile": profile})
