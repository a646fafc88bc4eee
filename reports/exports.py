"""A report as a CSV download: the headline figures, then each table under its title."""

import csv
import io

from django.http import HttpResponse

from .selectors import Report


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    # A leading =, +, - or @ makes spreadsheets run the cell as a formula.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def report_csv(report: Report) -> str:
    """Return the report as CSV text (blocks separated by an empty line)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([report.title, f"{report.range.start} to {report.range.end}"])
    writer.writerow([])
    writer.writerow(["Figure", "Value"])
    for _, label, value in report.summary:
        writer.writerow([label, _cell(value)])
    for table in report.tables:
        writer.writerow([])
        writer.writerow([table.title])
        writer.writerow([label for _, label in table.columns])
        for row in table.rows:
            writer.writerow([_cell(row.get(key)) for key, _ in table.columns])
    return out.getvalue()


def report_csv_response(report: Report) -> HttpResponse:
    response = HttpResponse(report_csv(report), content_type="text/csv; charset=utf-8")
    filename = f"{report.name}-{report.range.start}-{report.range.end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
