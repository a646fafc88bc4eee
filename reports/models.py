from django.db import models


class Report(models.Model):
    """No table: holds the `view_reports` permission that opens the reports to staff."""

    class Meta:
        managed = False
        verbose_name = "report"
        verbose_name_plural = "reports"
        default_permissions = ()
        permissions = [("view_reports", "Can view sales, payment and stock reports")]

    def __str__(self):
        return "Reports"
