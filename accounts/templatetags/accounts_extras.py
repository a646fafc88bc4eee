from django import template
from django.contrib.auth import password_validation

from accounts.devices import session_device_label

register = template.Library()


@register.filter
def device_label(session) -> str:
    """`{{ session|device_label }}`: "Chrome on Linux" from the session's user agent."""
    return session_device_label(session)


@register.inclusion_tag("accounts/_password_rules_list.html")
def password_rules():
    """List the password rules (from AUTH_PASSWORD_VALIDATORS) before the shopper types."""
    return {"rules": password_validation.password_validators_help_texts()}
