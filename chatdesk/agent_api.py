"""JSON for agents' browsers (session login): the abandoned carts of the sites they serve."""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from .actions.abandonment import abandoned_carts


class ContactOut(serializers.Serializer):
    name = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()


class ConsentOut(serializers.Serializer):
    email = serializers.BooleanField()
    sms = serializers.BooleanField()


class AbandonedCartOut(serializers.Serializer):
    id = serializers.IntegerField()
    site = serializers.CharField()
    cart_token = serializers.CharField()
    total = serializers.CharField(help_text="Decimal string.")
    currency = serializers.CharField()
    items = serializers.ListField(child=serializers.DictField())
    checkout_step = serializers.CharField(help_text="The furthest step the cart reached.")
    abandoned_at = serializers.DateTimeField()
    last_activity_at = serializers.DateTimeField(allow_null=True)
    visitor_id = serializers.UUIDField(allow_null=True)
    contact = ContactOut()
    consent = ConsentOut()
    recovery_url = serializers.CharField(allow_null=True)
    conversation_id = serializers.IntegerField(allow_null=True, help_text="The visitor's latest conversation.")


class AbandonedCartsOut(serializers.Serializer):
    abandoned_carts = AbandonedCartOut(many=True)


class IsAgent(permissions.BasePermission):
    message = "for agents only"

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and hasattr(user, "agent_profile"))


class AbandonedCartsView(APIView):
    """`GET /api/v1/agent/abandoned-carts/?site=KEY&limit=N`: newest first, only the agent's sites."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAgent]

    @extend_schema(
        operation_id="agent_abandoned_carts", tags=["Agents"],
        summary="Abandoned carts of the signed-in agent's sites (session login)",
        parameters=[OpenApiParameter("site", str, description="Only this site key."),
                    OpenApiParameter("limit", int, description="At most this many (1-500, default 100).")],
        responses={200: AbandonedCartsOut},
    )
    def get(self, request):
        try:
            limit = int(request.query_params.get("limit", 100))
        except ValueError:
            return Response({"detail": "'limit' must be a whole number", "errors": {"limit": ["not a number"]}},
                            status=400)
        carts = abandoned_carts(request.user, request.query_params.get("site") or None, limit)
        return Response({"abandoned_carts": carts})
