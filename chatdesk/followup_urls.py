"""Routes for follow-ups: recovery links, unsubscribe, inbound SMS, and the agents' call list API."""
from django.urls import path

from . import followup_views as views

urlpatterns = [
    path("r/<str:token>/", views.recover, name="recover"),
    path("r/<str:token>/cart.json", views.recover_cart, name="recover-cart"),
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("hooks/sms/twilio/<slug:site_key>/", views.twilio_inbound, name="sms-twilio-inbound"),
    path("console/api/call-tasks/", views.call_task_list, name="call-task-list"),
    path("console/api/call-tasks/<int:task_id>/", views.call_task_detail, name="call-task-detail"),
]
