"""Staff roles: Django groups holding model permissions and the team's custom ones.

`is_staff` only opens the admin door; what a staff member may see and do comes from these
groups (or permissions granted one by one). Superusers hold every permission. The groups
are created and kept in step by `manage.py roles_sync` (run by `seed_demo`, idempotent).

Permissions are named `app_label.codename` and looked up by name, so accounts imports no
app above it. Custom permissions of apps that are not installed yet are skipped with a
message; a custom permission whose model exists but whose row does not yet (its app has
not added it to Meta.permissions) is created on that model.
"""

CATALOG = "Catalog"
WAREHOUSE = "Warehouse"
CUSTOMER_SERVICE = "Customer service"
FINANCE = "Finance"
SHOP_MANAGER = "Shop manager"

# Custom permissions agreed across the team: name -> (model, description).
CUSTOM_PERMISSIONS = {
    "accounts.revoke_session": ("session", "Can revoke another person's session"),
    "inventory.adjust_stock": ("stockitem", "Can receive and adjust stock"),
    "orders.transition_order": ("order", "Can move an order along its lifecycle"),
    "payments.refund_payment": ("payment", "Can refund a payment"),
    "payments.review_payment": ("payment", "Can approve or reject a payment held for review"),
    "reports.view_reports": ("report", "Can view reports"),
}


def _crud(app: str, *models: str, actions=("view", "add", "change", "delete")) -> list[str]:
    return [f"{app}.{action}_{model}" for model in models for action in actions]


def _view(app: str, *models: str) -> list[str]:
    return _crud(app, *models, actions=("view",))


ROLES: dict[str, dict] = {
    CATALOG: {
        "description": "Edits categories and products (prices, activation); sees stock levels.",
        "permissions": [
            *_crud("catalog", "category", "product"),
            *_view("inventory", "stockitem"),
        ],
    },
    WAREHOUSE: {
        "description": "Receives and adjusts stock, sets thresholds, handles stock alerts, "
        "ships orders (status transitions).",
        "permissions": [
            *_view("catalog", "category", "product"),
            *_view("inventory", "stockitem", "batch", "reservation", "stockmovement", "stockalert"),
            "inventory.add_stockitem",
            "inventory.change_stockitem",
            "inventory.change_stockalert",
            "inventory.adjust_stock",
            *_view("orders", "order", "orderline", "orderevent"),
            "orders.transition_order",
        ],
    },
    CUSTOMER_SERVICE: {
        "description": "Sees every order and its payments, moves orders along (cancels "
        "unpaid ones; cancelling a paid one refunds it, which is Finance's), "
        "sees customers, their sessions and sign-ins, and ends a customer's sessions.",
        "permissions": [
            *_view("catalog", "category", "product"),
            *_view("orders", "order", "orderline", "orderevent"),
            "orders.transition_order",
            *_view("accounts", "user", "session", "authevent"),
            "accounts.revoke_session",
            *_view("payments", "payment", "refund"),
        ],
    },
    FINANCE: {
        "description": "Sees payments, refunds and fraud checks, refunds payments, reviews "
        "held payments, reads reports and orders.",
        "permissions": [
            *_view("orders", "order", "orderline", "orderevent"),
            *_view("payments", "payment", "refund", "fraudcheck", "webhookevent"),
            "payments.refund_payment",
            "payments.review_payment",
            "reports.view_reports",
        ],
    },
}
ROLES[SHOP_MANAGER] = {
    "description": "Everything the other roles may do, plus deactivating accounts and the "
    "outbox. Granting staff rights stays with superusers.",
    "permissions": sorted(
        {
            *(perm for role in list(ROLES.values()) for perm in role["permissions"]),
            "accounts.change_user",
            *_view("outbox", "outboxmessage"),
            "outbox.change_outboxmessage",
        }
    ),
}
