"""Names for the devices a shopper is logged in on, read from the stored user agent."""

from functools import lru_cache

from ua_parser import parse


@lru_cache(maxsize=2048)
def device_label(user_agent: str) -> str:
    """Return "Chrome on Linux", "Mobile Safari on iOS (iPhone)", or "" when nothing is known."""
    if not user_agent:
        return ""
    result = parse(user_agent[:512])
    browser = result.user_agent.family if result.user_agent else ""
    system = result.os.family if result.os else ""
    device = result.device.family if result.device else ""
    if browser == "Other":
        browser = ""
    if system == "Other":
        system = ""
    if not browser and not system:
        return ""
    label = f"{browser} on {system}" if browser and system else browser or system
    if device and device not in ("Other", "Generic Smartphone", "Spider") and device not in label:
        label = f"{label} ({device})"
    return label


def session_device_label(session) -> str:
    """Return how a device session is named to its owner (falls back to its kind)."""
    label = device_label(session.user_agent or "")
    if label:
        return label
    return session.device_name or ("App" if session.kind == "api" else "Web browser")
