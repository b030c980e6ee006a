"""`/api/v1/reports/summary/` and `/series/`: thin DRF doors onto metrics.summary and series.all_series."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from .auth import IsSupervisor, StaffTokenAuthentication
from .metrics import summary
from .scope import ScopeError, parse_scope
from .series import all_series

SCOPE_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, required=True, description="First day, YYYY-MM-DD (UTC)."),
    OpenApiParameter("to", OpenApiTypes.DATE, required=True, description="Last day, inclusive, YYYY-MM-DD (UTC)."),
    OpenApiParameter("site", OpenApiTypes.STR, description="A site key; all sites when absent."),
    OpenApiParameter("agent", OpenApiTypes.STR, description="An agent's username; all agents when absent."),
]


def bad_parameters(err: ScopeError) -> Response:
    return Response({"detail": f"invalid parameters: {err}", "errors": err.errors}, status=400)


class ReportView(APIView):
    authentication_classes = [StaffTokenAuthentication, SessionAuthentication]
    permission_classes = [IsSupervisor]

    def scope(self, request):
        return parse_scope(request.query_params)


class SummaryView(ReportView):
    @extend_schema(parameters=SCOPE_PARAMETERS, responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
                   description="Every figure of METRICS.md over a date range (supervisor session or staff token).")
    def get(self, request):
        try:
            scope = self.scope(request)
        except ScopeError as err:
            return bad_parameters(err)
        return Response(summary(scope))


class SeriesView(ReportView):
    @extend_schema(parameters=SCOPE_PARAMETERS, responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
                   description="The chart and table data behind /reports/.")
    def get(self, request):
        try:
            scope = self.scope(request)
        except ScopeError as err:
            return bad_parameters(err)
        figures = summary(scope)
        return Response({"summary": figures, **all_series(scope, figures)})
