"""Staff API: the order, payment and inventory reports as JSON or CSV."""

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.openapi import api_errors
from accounts.permissions import require_perms

from . import selectors
from .errors import InvalidDateRange
from .exports import report_csv_response

RANGE_PARAMETERS = [
    OpenApiParameter(
        "start", OpenApiTypes.DATE, description="First day (default: 29 days before end)"
    ),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day, included (default: today)"),
]
EXPIRING = OpenApiParameter(
    "expiring_days", int, description="Batches expiring within this many days (0-365)"
)
REPORT_SCHEMA = {
    "type": "object",
    "properties": {
        "report": {"type": "string"},
        "start": {"type": "string", "format": "date"},
        "end": {"type": "string", "format": "date"},
        "summary": {"type": "object", "additionalProperties": True},
        "expiring_days": {"type": "integer", "description": "Inventory report only"},
    },
    "required": ["report", "start", "end", "summary"],
    "additionalProperties": {"type": "array", "items": {"type": "object"}},
}


class ReportView(APIView):
    permission_classes = (require_perms("reports.view_reports"),)
    report_name = ""
    as_csv = False

    def get(self, request):
        report = selectors.report_build(name=self.report_name, params=request.query_params)
        if self.as_csv:
            return report_csv_response(report)
        return Response(report.as_dict())


def _view(name: str, summary: str, parameters, *, as_csv: bool):
    """Return the view class of one report (JSON or CSV), documented for the schema."""
    ok = (
        {(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, "The report as CSV")}
        if as_csv
        else {200: OpenApiResponse(REPORT_SCHEMA, "The report")}
    )

    @extend_schema(
        operation_id=f"reports_{name}{'_csv' if as_csv else ''}",
        summary=f"{summary} (CSV download)" if as_csv else summary,
        parameters=parameters,
        responses={**ok, **api_errors(InvalidDateRange)},
    )
    def get(self, request):
        return ReportView.get(self, request)

    suffix = "CsvView" if as_csv else "View"
    attrs = {"report_name": name, "as_csv": as_csv, "get": get}
    return type(f"{name.title()}Report{suffix}", (ReportView,), attrs)


def _views(name: str, summary: str, parameters):
    return (
        _view(name, summary, parameters, as_csv=False),
        _view(name, summary, parameters, as_csv=True),
    )


OrderReportView, OrderReportCsvView = _views(
    "orders",
    "Orders per day and status, AOV, cancellation/expiry rates, top sellers",
    RANGE_PARAMETERS,
)
PaymentReportView, PaymentReportCsvView = _views(
    "payments", "Captured, refunded and declined money per gateway; fraud reviews", RANGE_PARAMETERS
)
InventoryReportView, InventoryReportCsvView = _views(
    "inventory",
    "Stock on hand and value, low/out of stock, movements, turnover, expiring batches",
    [*RANGE_PARAMETERS, EXPIRING],
)


urlpatterns = [
    path("reports/orders/", OrderReportView.as_view(), name="reports-orders"),
    path("reports/orders/csv/", OrderReportCsvView.as_view(), name="reports-orders-csv"),
    path("reports/payments/", PaymentReportView.as_view(), name="reports-payments"),
    path("reports/payments/csv/", PaymentReportCsvView.as_view(), name="reports-payments-csv"),
    path("reports/inventory/", InventoryReportView.as_view(), name="reports-inventory"),
    path("reports/inventory/csv/", InventoryReportCsvView.as_view(), name="reports-inventory-csv"),
]
