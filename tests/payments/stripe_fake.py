"""A small local fake of Stripe's HTTP API, for offline tests of the Stripe gateway.

Serves what the gateway uses (Checkout Sessions: create (with Stripe's 30 minute to 24
hour bounds on `expires_at`), retrieve, expire (`POST /v1/checkout/sessions/{id}/expire`,
only while open); Refunds: create, retrieve) on 127.0.0.1, honours Idempotency-Key like
Stripe (the same key answers the first response; the same key with other parameters is an
error), and plays the shopper and Stripe's webhook sender: `complete()` pays a session
(only an open one) and `event()` builds a webhook signed exactly as Stripe signs
(`Stripe-Signature: t=<ts>,v1=<HMAC-SHA256 of "<ts>.<payload>">`). Written from Stripe's
API reference, independent of our code.
"""

import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


def _nest(pairs) -> dict:
    """Turn Stripe's form encoding (`a[b][0][c]=v`) back into nested dicts and lists."""
    root: dict = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = root
        for part, following in zip(parts, [*parts[1:], None], strict=True):
            if following is None:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _lists(root)


def _lists(node):
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    return node


class FakeStripe:
    def __init__(self, webhook_secret: str):
        self.webhook_secret = webhook_secret
        self.sessions: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.idempotent: dict[str, tuple[str, int, dict]] = {}
        self.requests: list[tuple[str, str, dict, str]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: dict):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", f"req_{uuid.uuid4().hex[:12]}")
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                params = _nest(parse_qsl(raw, keep_blank_values=True))
                key = self.headers.get("Idempotency-Key") or ""
                auth = self.headers.get("Authorization") or ""
                with fake.lock:
                    fake.requests.append((method, self.path, params, key))
                    if not auth.startswith("Bearer sk_test_"):
                        return self._answer(401, fake.error("Invalid API key.", "api_key"))
                    if method == "POST" and key in fake.idempotent:
                        path, status, body = fake.idempotent[key]
                        if path != self.path + raw:
                            return self._answer(
                                400,
                                fake.error(
                                    "Keys for idempotent requests can only be used with the "
                                    "same parameters they were first used with.",
                                    "idempotency_error",
                                ),
                            )
                        return self._answer(status, body)
                    status, body = fake.route(method, self.path.split("?")[0], params)
                    if method == "POST" and key:
                        fake.idempotent[key] = (self.path + raw, status, body)
                return self._answer(status, body)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def error(message: str, code: str, type_: str = "invalid_request_error") -> dict:
        return {"error": {"type": type_, "code": code, "message": message}}

    # -- the API ---------------------------------------------------------------------------
    def route(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        parts = path.strip("/").split("/")
        if parts[:3] == ["v1", "checkout", "sessions"]:
            if method == "POST" and len(parts) == 3:
                expires_at = params.get("expires_at")
                if expires_at is not None:
                    lifetime = int(expires_at) - int(time.time())
                    if not 30 * 60 <= lifetime <= 24 * 3600:
                        error = self.error(
                            "The `expires_at` timestamp must be between 30 minutes and 24 "
                            "hours from Checkout Session creation.",
                            "parameter_invalid_integer",
                        )
                        error["error"]["param"] = "expires_at"
                        return 400, error
                return 200, self._session_create(params)
            session = self.sessions.get(parts[3]) if len(parts) > 3 else None
            if session is None:
                return 404, self.error("No such checkout.session", "resource_missing")
            if method == "GET" and len(parts) == 4:
                return 200, session
            if method == "POST" and parts[4:] == ["expire"]:
                if session["status"] != "open":
                    return 400, self.error("Only open sessions can be expired.", "session_expired")
                session["status"] = "expired"
                return 200, session
        if parts[:2] == ["v1", "refunds"]:
            if method == "POST" and len(parts) == 2:
                return self._refund_create(params)
            if method == "GET" and len(parts) == 3 and parts[2] in self.refunds:
                return 200, self.refunds[parts[2]]
        return 404, self.error(f"Unrecognized request URL ({method} {path}).", "not_found")

    def _session_create(self, params: dict) -> dict:
        item = params["line_items"][0]
        amount = int(item["price_data"]["unit_amount"]) * int(item["quantity"])
        session_id = f"cs_test_{uuid.uuid4().hex}"
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": params["mode"],
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": amount,
            "currency": item["price_data"]["currency"],
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata", {}),
            "success_url": params["success_url"],
            "cancel_url": params["cancel_url"],
            "payment_intent": None,
            "expires_at": int(params.get("expires_at") or time.time() + 24 * 3600),
            "url": f"https://checkout.stripe.test/c/pay/{session_id}",
            "livemode": False,
        }
        self.sessions[session_id] = session
        return session

    def _refund_create(self, params: dict) -> tuple[int, dict]:
        intent = params.get("payment_intent")
        session = next((s for s in self.sessions.values() if s["payment_intent"] == intent), None)
        if session is None:
            return 400, self.error("No such payment_intent", "resource_missing")
        amount = int(params.get("amount") or session["amount_total"])
        done = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent)
        if done + amount > session["amount_total"]:
            return 400, self.error(
                "Refund amount is greater than unrefunded amount on charge.",
                "charge_already_refunded",
            )
        refund = {
            "id": f"re_{uuid.uuid4().hex[:24]}",
            "object": "refund",
            "amount": amount,
            "currency": session["currency"],
            "payment_intent": intent,
            "status": "succeeded",
            "metadata": params.get("metadata", {}),
        }
        self.refunds[refund["id"]] = refund
        return 200, refund

    # -- the shopper and Stripe's webhook sender -------------------------------------------
    def complete(self, session_id: str) -> dict:
        """The shopper paid on Stripe's page (only an open session takes money)."""
        with self.lock:
            session = self.sessions[session_id]
            if session["status"] != "open":
                raise ValueError(f"Checkout Session {session_id} is {session['status']}.")
            session.update(
                status="complete",
                payment_status="paid",
                payment_intent=f"pi_{uuid.uuid4().hex[:24]}",
            )
            return dict(session)

    def event(self, event_type: str, obj: dict, *, secret: str | None = None, ts=None):
        """Return (payload, Stripe-Signature header) of the webhook Stripe sends."""
        payload = json.dumps(
            {
                "id": f"evt_{uuid.uuid4().hex[:24]}",
                "object": "event",
                "api_version": "2025-01-27.acacia",
                "created": int(time.time()),
                "type": event_type,
                "livemode": False,
                "data": {"object": obj},
            }
        ).encode()
        t = int(time.time()) if ts is None else ts
        signed = f"{t}.".encode() + payload
        digest = hmac.new(
            (secret or self.webhook_secret).encode(), signed, hashlib.sha256
        ).hexdigest()
        return payload, f"t={t},v1={digest}"
