"""Webhook signatures as providers make them: HMAC-SHA256 over "<timestamp>.<raw body>".

The header reads `t=<unix seconds>,v1=<hex digest>`; several `v1` entries are allowed so a
provider can roll its secret. Verification compares in constant time and refuses timestamps
outside the tolerance, so a captured request cannot be replayed later.
"""

import hashlib
import hmac
import time
from collections.abc import Sequence

from .errors import InvalidSignature, SignatureExpired

SCHEME = "v1"
MAX_HEADER_LENGTH = 1024


def signature_compute(*, secret: str, timestamp: int, body: bytes) -> str:
    """Return the hex HMAC-SHA256 of "<timestamp>.<body>" under the secret."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header_make(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    """Return the X-Signature header value a provider would send with this body."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    digest = signature_compute(secret=secret, timestamp=timestamp, body=body)
    return f"t={timestamp},{SCHEME}={digest}"


def signature_header_parse(header: str) -> tuple[int, list[str]]:
    """Return (timestamp, signatures) from a header; raise InvalidSignature when malformed."""
    if not header or len(header) > MAX_HEADER_LENGTH:
        raise InvalidSignature()
    timestamp, signatures = None, []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == SCHEME and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidSignature()
    return timestamp, signatures


def signature_verify(
    *,
    secrets: Sequence[str],
    body: bytes,
    header: str,
    tolerance_seconds: int,
    now: float | None = None,
) -> int:
    """Check the header against the body; return its timestamp or raise InvalidSignature."""
    timestamp, signatures = signature_header_parse(header)
    matched = False
    for secret in secrets:
        expected = signature_compute(secret=secret, timestamp=timestamp, body=body)
        for candidate in signatures:
            # compare_digest on bytes: a non-ASCII candidate must not raise TypeError.
            if hmac.compare_digest(expected.encode(), candidate.encode("utf-8", "replace")):
                matched = True
    if not matched:
        raise InvalidSignature()
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureExpired()
    return timestamp
