from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def change(percent):
    """Render a change in percent as an arrow and a signed figure ("" when unknown)."""
    if percent is None:
        return ""
    css = "dash-up" if percent > 0 else "dash-down" if percent < 0 else "dash-flat"
    arrow = "▲" if percent > 0 else "▼" if percent < 0 else "="
    return format_html('<span class="dash-change {}">{} {:+}%</span>', css, arrow, percent)
