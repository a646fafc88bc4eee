"""Links in emails, per purpose, so a SPA or a mobile app gets links to its own routes.

Each purpose has a setting holding a URL template with placeholders (`{token}`, `{uid}`,
`{number}`); empty, the link goes to FRONTEND_URL's conventional route when that is set,
otherwise to the shop's own page under SITE_URL:

- verify, EMAIL_LINK_VERIFY: FRONTEND_URL + `/verify-email?token={token}`, or
  SITE_URL + `/account/verify/{token}/`;
- reset, EMAIL_LINK_RESET: FRONTEND_URL + `/reset-password?uid={uid}&token={token}`, or
  SITE_URL + `/account/reset/{uid}/{token}/`;
- order, EMAIL_LINK_ORDER: FRONTEND_URL + `/orders/{number}`, or SITE_URL + `/orders/{number}/`.

A mobile app can use a universal link or its own scheme (`shopapp://verify?token={token}`).
"""

from string import Formatter
from urllib.parse import quote

from django.conf import settings
from django.core.checks import Error, register

PURPOSES = {
    "verify": ("EMAIL_LINK_VERIFY", "/verify-email?token={token}", "/account/verify/{token}/"),
    "reset": (
        "EMAIL_LINK_RESET",
        "/reset-password?uid={uid}&token={token}",
        "/account/reset/{uid}/{token}/",
    ),
    "order": ("EMAIL_LINK_ORDER", "/orders/{number}", "/orders/{number}/"),
}
PLACEHOLDERS = {"verify": {"token"}, "reset": {"uid", "token"}, "order": {"number"}}


def email_link_template(purpose: str) -> str:
    """Return the URL template in force for the purpose."""
    setting, frontend_route, shop_route = PURPOSES[purpose]
    template = getattr(settings, setting, "")
    if template:
        return template
    frontend = getattr(settings, "FRONTEND_URL", "").rstrip("/")
    if frontend:
        return frontend + frontend_route
    return settings.SITE_URL.rstrip("/") + shop_route


def email_link(purpose: str, **values: str) -> str:
    """Return the link for the purpose with its placeholders filled in (URL-quoted)."""
    quoted = {name: quote(str(value), safe="") for name, value in values.items()}
    return email_link_template(purpose).format_map(quoted)


@register()
def email_link_templates_check(app_configs, **kwargs):
    """A template naming an unknown placeholder would fail every email of its purpose."""
    errors = []
    for purpose, (setting, _, _) in PURPOSES.items():
        try:
            names = {f for _, f, _, _ in Formatter().parse(email_link_template(purpose)) if f}
        except ValueError as exc:
            names, problem = set(), str(exc)
        else:
            problem = ""
        unknown = names - PLACEHOLDERS[purpose]
        if problem or unknown:
            errors.append(
                Error(
                    f"{setting} is not a valid link template: {problem or sorted(unknown)}",
                    hint=f"Use only {sorted(PLACEHOLDERS[purpose])} in braces.",
                    id="accounts.E101",
                )
            )
    return errors
