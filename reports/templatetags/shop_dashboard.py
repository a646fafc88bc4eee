"""The admin's first page: sales figures, what needs a person now, and two charts."""

from datetime import timedelta

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from .. import charts, selectors

register = template.Library()

# name -> (label, permission needed to see it, changelist, filters)
ATTENTION = {
    "orders_to_ship": (
        "Orders paid, not shipped",
        "orders.view_order",
        "admin:orders_order_changelist",
        lambda today, now: {"status__in": "paid,processing"},
    ),
    "payments_in_review": (
        "Payments in fraud review",
        "payments.view_payment",
        "admin:payments_payment_changelist",
        lambda today, now: {"status__exact": "review"},
    ),
    "payments_stuck": (
        "Payments stuck in processing",
        "payments.view_payment",
        "admin:payments_payment_changelist",
        lambda today, now: {
            "status__exact": selectors.STUCK_PAYMENT_STATUS,
            "created_at__lt": (now - selectors.STUCK_PAYMENT_AFTER).isoformat(),
        },
    ),
    "stock_alerts_open": (
        "Open stock alerts",
        "inventory.view_stockalert",
        "admin:inventory_stockalert_changelist",
        lambda today, now: {"state__exact": "open"},
    ),
    "batches_expiring": (
        "Batches expiring soon",
        "inventory.view_batch",
        "admin:inventory_batch_changelist",
        lambda today, now: {
            "expires_on__gte": today.isoformat(),
            "expires_on__lte": (
                today + timedelta(days=settings.BATCH_EXPIRY_WARNING_DAYS)
            ).isoformat(),
        },
    ),
}


@register.inclusion_tag("reports/admin/dashboard.html", takes_context=True)
def shop_dashboard(context):
    request = context["request"]
    user = request.user
    now = timezone.now()
    today = timezone.localdate(now)
    visible = [name for name, (_, perm, _, _) in ATTENTION.items() if user.has_perm(perm)]
    counts = selectors.attention_counts(include=visible, now=now)
    attention = [
        {
            "label": ATTENTION[name][0],
            "count": counts[name],
            "url": reverse(ATTENTION[name][2]) + "?" + urlencode(ATTENTION[name][3](today, now)),
        }
        for name in visible
    ]
    data = {"attention": attention, "can_view_reports": user.has_perm("reports.view_reports")}
    if data["can_view_reports"]:
        month = selectors.DateRange.last_days(30, today=today)
        per_day = selectors.sales_per_day(date_range=month)
        top = selectors.top_products(date_range=month, limit=5)
        data.update(
            currency=settings.SHOP_CURRENCY,
            periods=selectors.dashboard_sales(today=today),
            sales_chart=charts.column_chart([(f"{day:%d %b}", total) for day, total in per_day]),
            top_chart=charts.bar_chart([(row["name"], row["revenue"]) for row in top]),
            reports_url=reverse("admin:reports_report_changelist"),
        )
    return data
