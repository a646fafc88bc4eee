"""Errors the reports raise; they follow the shop's domain-error protocol (code, http_status)."""


class ReportsError(Exception):
    code = "invalid_report"
    http_status = 400


class InvalidDateRange(ReportsError):
    code = "invalid_date_range"
