"""Errors the reports raise; they follow the shop's domain-error protocol (code, http_status)."""


class ReportsError(Exception):
    code = "invalid_report"
    http_status = 400


class InvalidDateRange(ReportsError):
    code = "invalid_date_range"
    default_message = "The dates asked for are not a valid range (YYYY-MM-DD, at most 366 days)."
