"""The reports area of the admin: a page per report with a date range and a CSV download."""

from decimal import Decimal

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode

from . import selectors
from .errors import ReportsError
from .exports import report_csv_response
from .models import Report

PERMISSION = "reports.view_reports"
NUMERIC = (int, float, Decimal)


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    """Not a list of rows: the app's entry opens the reports index."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.has_perm(PERMISSION)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("", view(self.index_view), name="reports_report_changelist"),
            path("<slug:name>/", view(self.report_view), name="reports_report"),
            path("<slug:name>/csv/", view(self.csv_view), name="reports_report_csv"),
        ]

    def _check(self, request, name=None):
        if not self.has_module_permission(request):
            raise PermissionDenied
        if name is not None and name not in selectors.REPORTS:
            raise Http404("No such report.")

    def _context(self, request, title, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "reports": [
                (name, label, reverse("admin:reports_report", args=[name]))
                for name, label in selectors.REPORTS.items()
            ],
            **extra,
        }

    def index_view(self, request):
        self._check(request)
        return TemplateResponse(
            request, "reports/admin/index.html", self._context(request, "Reports")
        )

    def report_view(self, request, name):
        self._check(request, name)
        error, report = None, None
        try:
            report = selectors.report_build(name=name, params=request.GET)
        except ReportsError as exc:
            error = str(exc)
        query = urlencode(
            {k: v for k, v in request.GET.items() if k in ("start", "end", "expiring_days")}
        )
        tables = []
        if report is not None:
            for table in report.tables:
                rows = [
                    [(row.get(key), isinstance(row.get(key), NUMERIC)) for key, _ in table.columns]
                    for row in table.rows
                ]
                tables.append((table, rows))
        context = self._context(
            request,
            f"{selectors.REPORTS[name]} report",
            name=name,
            report=report,
            error=error,
            tables=tables,
            params=request.GET,
            csv_url=reverse("admin:reports_report_csv", args=[name])
            + (f"?{query}" if query else ""),
        )
        return TemplateResponse(
            request, "reports/admin/report.html", context, status=400 if error else 200
        )

    def csv_view(self, request, name):
        self._check(request, name)
        try:
            report = selectors.report_build(name=name, params=request.GET)
        except ReportsError as exc:
            return TemplateResponse(
                request,
                "reports/admin/report.html",
                self._context(
                    request,
                    f"{selectors.REPORTS[name]} report",
                    name=name,
                    error=str(exc),
                    params=request.GET,
                ),
                status=400,
            )
        return report_csv_response(report)
