"""Staff roles: what each group may and may not do through the API and the admin.

API calls use real bearer tokens (the cached user snapshot carries the permissions); admin
calls use a logged-in browser session.
"""

import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import TestCase

from accounts import roles, selectors
from accounts.models import Session
from catalog.models import Product
from inventory import services as inventory_services
from inventory.models import StockAlert
from orders import services as order_services
from orders.models import OrderStatus
from payments import services as payment_services
from payments.models import Payment, Refund
from tests.accounts.conftest import bearer
from tests.factories import ProductFactory, UserFactory
from tests.helpers import error_code
from tests.orders.factories import place_order, stocked_product

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/v1/products/"
STOCK = "/api/v1/inventory/stock/"
ORDERS = "/api/v1/orders/"
REPORTS = "/api/v1/reports/orders/"
PAYMENTS_ADMIN = "/admin/payments/payment/"
CARD_OK = "4242424242424242"


def _paid_payment(shopper, product) -> Payment:
    """Place an order for the shopper and pay it with the dummy gateway's good card."""
    order = place_order(shopper, {product: 1})
    with TestCase.captureOnCommitCallbacks(execute=True):
        payment, _ = payment_services.payment_start(
            order=order,
            gateway="dummy",
            details={"card_number": CARD_OK},
            idempotency_key=uuid.uuid4().hex,
        )
    return payment


@pytest.fixture(autouse=True)
def _quiet_fraud_rules(settings):
    """Payments go through unless a test asks for a review."""
    settings.FRAUD_AMOUNT_THRESHOLD = "1000.00"
    settings.FRAUD_NEW_ACCOUNT_HOURS = 0
    settings.FRAUD_MAX_ORDERS_PER_HOUR = 100


@pytest.fixture
def groups(db):
    call_command("roles_sync", verbosity=0, stdout=open("/dev/null", "w"))  # noqa: SIM115
    return {group.name: group for group in Group.objects.all()}


@pytest.fixture
def staff_in(groups, api_login):
    """Return (user, bearer client) for a staff member in the named group (None: no group)."""

    def make(group_name=None):
        user = UserFactory(is_staff=True)
        if group_name:
            user.groups.add(groups[group_name])
        client = bearer(api_login(user)["access"])
        client.user = user
        return client

    return make


@pytest.fixture
def world(db):
    shopper = UserFactory()
    product = stocked_product(on_hand=10)
    order = place_order(shopper, {product: 1})
    order_services.order_transition(order=order, to_status=OrderStatus.PAID)
    item = inventory_services.stock_item_for_product(product=product)
    payment = _paid_payment(shopper, product)
    assert payment.status == "succeeded"
    return {
        "shopper": shopper,
        "product": product,
        "order": order,
        "item": item,
        "payment": payment,
    }


def _calls(world):
    """name -> (method, url, body, status when allowed)."""
    product, order, item = world["product"], world["order"], world["item"]
    payment = world["payment"]
    return {
        "create_product": (
            "post",
            PRODUCTS,
            {"sku": "R-1", "name": "Role kettle", "price": "9"},
            201,
        ),
        "reprice_product": ("patch", f"{PRODUCTS}{product.slug}/", {"price": "12.00"}, 200),
        "list_stock": ("get", STOCK, None, 200),
        "adjust_stock": ("post", f"{STOCK}{item.pk}/adjust/", {"delta": 1, "reason": "count"}, 200),
        "receive_stock": ("post", f"{STOCK}{item.pk}/receive/", {"quantity": 2}, 200),
        "all_orders": ("get", ORDERS, {"all": "true"}, 200),
        "others_order": ("get", f"{ORDERS}{order.number}/", None, 200),
        "transition": (
            "post",
            f"{ORDERS}{order.number}/transition/",
            {"status": "processing", "note": "picking"},
            200,
        ),
        "refund": (
            "post",
            f"/api/v1/payments/{payment.pk}/refunds/",
            {"amount": "1.00", "reason": "Goodwill"},
            201,
        ),
        "reports": ("get", REPORTS, None, 200),
    }


ALLOWED = {
    None: set(),
    roles.CATALOG: {"create_product", "reprice_product", "list_stock"},
    roles.WAREHOUSE: {
        "list_stock",
        "adjust_stock",
        "receive_stock",
        "all_orders",
        "others_order",
        "transition",
    },
    roles.CUSTOMER_SERVICE: {"all_orders", "others_order", "transition"},
    roles.FINANCE: {"all_orders", "others_order", "refund", "reports"},
    roles.SHOP_MANAGER: {
        "refund",
        "reports",
        "create_product",
        "reprice_product",
        "list_stock",
        "adjust_stock",
        "receive_stock",
        "all_orders",
        "others_order",
        "transition",
    },
}


def _call(client, method, url, body):
    if method == "get":
        return client.get(url, body)
    # A key for the writes that take one (refunds, checkout); the others ignore it.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return getattr(client, method)(
            url, body, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
        )


@pytest.mark.parametrize("role", list(ALLOWED), ids=lambda r: r or "no-group")
def test_each_role_through_the_api(role, staff_in, world):
    client = staff_in(role)
    for name, (method, url, body, allowed_status) in _calls(world).items():
        response = _call(client, method, url, body)
        if name in ALLOWED[role]:
            assert response.status_code == allowed_status, (name, response.content)
        else:
            assert response.status_code == 403, (name, response.content)
            assert error_code(response) == "permission_denied", name
    product = Product.objects.get(pk=world["product"].pk)
    assert (str(product.price) == "12.00") == ("reprice_product" in ALLOWED[role])
    refunded = Refund.objects.filter(payment=world["payment"]).exists()
    assert refunded == ("refund" in ALLOWED[role])


def test_a_staff_member_without_groups_sees_no_inactive_products(staff_in):
    ProductFactory(active=False, slug="hidden")
    client = staff_in(None)
    assert client.get(f"{PRODUCTS}hidden/").status_code == 404
    manager = staff_in(roles.CATALOG)
    assert manager.get(f"{PRODUCTS}hidden/").status_code == 200


def test_staff_cancelling_someone_elses_order_needs_transition_order(staff_in, world):
    order = place_order(world["shopper"], {world["product"]: 1})
    finance = staff_in(roles.FINANCE)  # may see the order, may not move it
    response = finance.post(f"{ORDERS}{order.number}/cancel/")
    assert response.status_code == 403
    assert error_code(response) == "permission_denied"
    service = staff_in(roles.CUSTOMER_SERVICE)
    assert service.post(f"{ORDERS}{order.number}/cancel/").status_code == 200


def test_superusers_keep_every_right(api_login, world):
    root = UserFactory(is_staff=True, is_superuser=True)
    client = bearer(api_login(root)["access"])
    for name, (method, url, body, allowed_status) in _calls(world).items():
        response = _call(client, method, url, body)
        assert response.status_code == allowed_status, (name, response.content)


# ------------------------------------------------------------------------------
# Permissions in the cached snapshot
# ------------------------------------------------------------------------------
def test_joining_a_group_takes_effect_on_the_next_request(staff_in, groups, world):
    client = staff_in(None)
    url = f"{STOCK}{world['item'].pk}/adjust/"
    assert client.post(url, {"delta": 1, "reason": "x"}).status_code == 403
    client.user.groups.add(groups[roles.WAREHOUSE])
    assert client.post(url, {"delta": 1, "reason": "x"}).status_code == 200
    # The group loses the permission: every member loses it at once.
    groups[roles.WAREHOUSE].permissions.remove(
        Permission.objects.get(codename="adjust_stock", content_type__app_label="inventory")
    )
    assert client.post(url, {"delta": 1, "reason": "x"}).status_code == 403
    # Granted to the user directly, then the group is deleted: still allowed by the grant.
    client.user.user_permissions.add(
        Permission.objects.get(codename="adjust_stock", content_type__app_label="inventory"),
        Permission.objects.get(codename="view_stockitem", content_type__app_label="inventory"),
    )
    assert client.post(url, {"delta": 1, "reason": "x"}).status_code == 200
    client.user.user_permissions.clear()
    assert client.post(url, {"delta": 1, "reason": "x"}).status_code == 403


def test_reverse_side_changes_refresh_members_too(staff_in, groups, world):
    client = staff_in(None)
    assert client.get(STOCK).status_code == 403
    groups[roles.CATALOG].user_set.add(client.user)
    assert client.get(STOCK).status_code == 200
    groups[roles.CATALOG].delete()
    assert client.get(STOCK).status_code == 403


def test_a_staff_permission_check_makes_no_query_warm(staff_in, django_assert_num_queries):
    client = staff_in(roles.WAREHOUSE)
    assert client.get(STOCK).status_code == 200  # the cache is warm after one request
    session = Session.objects.get(user=client.user)
    with django_assert_num_queries(0):
        check = selectors.session_check(session_id=session.pk, user_id=client.user.pk)
        assert check.user.has_perm("inventory.adjust_stock")
        assert not check.user.has_perm("catalog.add_product")


# ------------------------------------------------------------------------------
# The groups command
# ------------------------------------------------------------------------------
def test_roles_sync_is_idempotent_and_reports_what_it_skips(capsys):
    call_command("roles_sync")
    first = capsys.readouterr().out
    assert "created group Catalog" in first
    call_command("roles_sync")
    second = capsys.readouterr().out
    assert "created group" not in second
    assert set(Group.objects.values_list("name", flat=True)) == set(roles.ROLES)
    warehouse = Group.objects.get(name=roles.WAREHOUSE)
    names = {f"{p.content_type.app_label}.{p.codename}" for p in warehouse.permissions.all()}
    assert "inventory.adjust_stock" in names
    assert "catalog.add_product" not in names
    finance = Group.objects.get(name=roles.FINANCE)
    assert finance.permissions.filter(
        content_type__app_label="reports", codename="view_reports"
    ).exists()
    # A permission removed by hand comes back on the next run.
    warehouse.permissions.remove(Permission.objects.get(codename="adjust_stock"))
    call_command("roles_sync", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert warehouse.permissions.filter(codename="adjust_stock").exists()


# ------------------------------------------------------------------------------
# The admin
# ------------------------------------------------------------------------------
@pytest.fixture
def admin_as(groups, client):
    def make(group_name=None, **fields):
        user = UserFactory(is_staff=True, **fields)
        if group_name:
            user.groups.add(groups[group_name])
        browser = client.__class__()
        browser.force_login(user)
        browser.user = user
        return browser

    return make


def _action(browser, url, action, pks):
    return browser.post(url, {"action": action, "_selected_action": [str(pk) for pk in pks]})


def test_is_staff_alone_opens_the_admin_and_nothing_more(admin_as, world):
    browser = admin_as(None)
    index = browser.get("/admin/")
    assert index.status_code == 200
    assert "permission to view or edit anything" in index.content.decode()
    assert browser.get("/admin/catalog/product/").status_code == 403
    assert browser.get(f"/admin/inventory/stockitem/{world['item'].pk}/adjust/").status_code == 403


def test_catalog_role_in_the_admin(admin_as, world):
    browser = admin_as(roles.CATALOG)
    product = world["product"]
    response = _action(browser, "/admin/catalog/product/", "deactivate", [product.pk])
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.active is False
    # sees stock, may not adjust it (no links, the page refuses)
    listing = browser.get("/admin/inventory/stockitem/").content.decode()
    assert "/adjust/" not in listing
    assert browser.get(f"/admin/inventory/stockitem/{world['item'].pk}/adjust/").status_code == 403
    assert browser.get("/admin/accounts/user/").status_code == 403


def test_warehouse_role_in_the_admin(admin_as, world):
    browser = admin_as(roles.WAREHOUSE)
    item, product = world["item"], world["product"]
    url = f"/admin/inventory/stockitem/{item.pk}/adjust/"
    item.refresh_from_db()
    on_hand = item.on_hand
    assert browser.post(url, {"delta": 2, "reason": "found"}).status_code == 302
    item.refresh_from_db()
    assert item.on_hand == on_hand + 2
    alert = StockAlert.objects.create(stock_item=item, kind="low_stock")
    _action(browser, "/admin/inventory/stockalert/", "acknowledge", [alert.pk])
    alert.refresh_from_db()
    assert alert.state == StockAlert.State.ACKNOWLEDGED
    # may look at products, may not (de)activate them: the action is not offered
    response = _action(browser, "/admin/catalog/product/", "deactivate", [product.pk])
    assert response.status_code == 200  # the changelist again, "No action selected"
    product.refresh_from_db()
    assert product.active is True


def test_customer_service_role_in_the_admin(admin_as, world, api_login):
    browser = admin_as(roles.CUSTOMER_SERVICE)
    shopper = world["shopper"]
    api_login(shopper)
    # ends a customer's sessions, may not deactivate the account
    _action(browser, "/admin/accounts/user/", "deactivate", [shopper.pk])
    shopper.refresh_from_db()
    assert shopper.is_active is True
    _action(browser, "/admin/accounts/user/", "revoke_sessions", [shopper.pk])
    assert not Session.objects.filter(user=shopper, revoked_at__isnull=True).exists()
    # may not touch stock or products
    assert browser.get(f"/admin/inventory/stockitem/{world['item'].pk}/adjust/").status_code == 403
    change = f"/admin/catalog/product/{world['product'].pk}/change/"
    assert browser.post(change, {"name": "Renamed"}).status_code == 403


def test_shop_manager_deactivates_shoppers_but_cannot_grant_staff_rights(admin_as, world, groups):
    browser = admin_as(roles.SHOP_MANAGER)
    shopper = world["shopper"]
    _action(browser, "/admin/accounts/user/", "deactivate", [shopper.pk])
    shopper.refresh_from_db()
    assert shopper.is_active is False
    # The change form shows the staff flags read-only: posting them changes nothing.
    other = UserFactory()
    url = f"/admin/accounts/user/{other.pk}/change/"
    page = browser.get(url).content.decode()
    assert 'name="is_superuser"' not in page
    browser.post(
        url,
        {
            "email": other.email,
            "first_name": "X",
            "last_name": "Y",
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "groups": [groups[roles.SHOP_MANAGER].pk],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    other.refresh_from_db()
    assert not other.is_staff and not other.is_superuser
    assert not other.groups.exists()
    # Another staff account is for superusers to change.
    colleague = UserFactory(is_staff=True)
    assert browser.get(f"/admin/accounts/user/{colleague.pk}/change/").status_code == 200
    assert (
        'name="email"'
        not in browser.get(f"/admin/accounts/user/{colleague.pk}/change/").content.decode()
    )
    _action(browser, "/admin/accounts/user/", "deactivate", [colleague.pk])
    colleague.refresh_from_db()
    assert colleague.is_active is True


def _in_review(world, settings) -> Payment:
    settings.FRAUD_AMOUNT_THRESHOLD = "1.00"  # every payment above it is held for review
    payment = _paid_payment(world["shopper"], world["product"])
    settings.FRAUD_AMOUNT_THRESHOLD = "1000.00"
    assert payment.status == "review"
    return payment


def _confirmed_action(browser, action, payments):
    """Run a payment bulk action through its confirmation page; return the page it asked on."""
    pks = [str(p.pk) for p in payments]
    asked = browser.post(PAYMENTS_ADMIN, {"action": action, "_selected_action": pks})
    assert asked.status_code == 200 and "bulk-confirm" in asked.content.decode(), action
    with TestCase.captureOnCommitCallbacks(execute=True):
        done = browser.post(
            PAYMENTS_ADMIN, {"action": action, "_selected_action": pks, "apply": "yes"}
        )
    assert done.status_code == 302, action
    return asked


def test_finance_through_the_api_refunds_and_reads_reports_not_stock_or_products(staff_in, world):
    finance = staff_in(roles.FINANCE)
    payment, item, product = world["payment"], world["item"], world["product"]
    item.refresh_from_db()
    on_hand, price = item.on_hand, product.price
    refund = _call(
        finance,
        "post",
        f"/api/v1/payments/{payment.pk}/refunds/",
        {"amount": "2.00", "reason": "Late delivery"},
    )
    assert refund.status_code == 201, refund.content
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("2.00")
    report = finance.get(REPORTS)
    assert report.status_code == 200
    assert report.json()["summary"]["orders_placed"] == 2  # the world's two orders
    # no stock or catalogue writes
    adjust = finance.post(f"{STOCK}{item.pk}/adjust/", {"delta": 5, "reason": "x"}, format="json")
    assert (adjust.status_code, error_code(adjust)) == (403, "permission_denied")
    reprice = finance.patch(f"{PRODUCTS}{product.slug}/", {"price": "1.00"}, format="json")
    assert (reprice.status_code, error_code(reprice)) == (403, "permission_denied")
    item.refresh_from_db()
    product.refresh_from_db()
    assert (item.on_hand, product.price) == (on_hand, price)


def test_shop_manager_through_the_api_refunds_and_reads_reports(staff_in, world):
    manager = staff_in(roles.SHOP_MANAGER)
    payment = world["payment"]
    refund = _call(
        manager,
        "post",
        f"/api/v1/payments/{payment.pk}/refunds/",
        {"amount": "1.50", "reason": "Dented tin"},
    )
    assert refund.status_code == 201, refund.content
    assert Refund.objects.get(payment=payment).amount == Decimal("1.50")
    assert manager.get(REPORTS).status_code == 200


def test_roles_without_finance_rights_may_not_refund_or_read_reports(staff_in, world):
    for role in (roles.CATALOG, roles.WAREHOUSE, roles.CUSTOMER_SERVICE):
        client = staff_in(role)
        url = f"/api/v1/payments/{world['payment'].pk}/refunds/"
        refund = _call(client, "post", url, {"amount": "1.00", "reason": "x"})
        assert (refund.status_code, error_code(refund)) == (403, "permission_denied"), role
        report = client.get(REPORTS)
        assert (report.status_code, error_code(report)) == (403, "permission_denied"), role
    assert not Refund.objects.exists()


def test_finance_role_in_the_admin(admin_as, world, settings):
    browser = admin_as(roles.FINANCE)
    assert browser.get("/admin/catalog/product/").status_code == 403
    assert browser.get("/admin/accounts/user/").status_code == 403
    assert browser.get(f"/admin/inventory/stockitem/{world['item'].pk}/adjust/").status_code == 403
    product = world["product"]
    change = f"/admin/catalog/product/{product.pk}/change/"
    assert browser.post(change, {"name": "Renamed", "price": "1.00"}).status_code == 403
    product.refresh_from_db()
    assert product.name != "Renamed"
    # approves one payment in review and rejects another (each after its confirmation page)
    approved, rejected = _in_review(world, settings), _in_review(world, settings)
    _confirmed_action(browser, "approve_review", [approved])
    _confirmed_action(browser, "reject_review", [rejected])
    approved.refresh_from_db()
    rejected.refresh_from_db()
    assert (approved.status, approved.order.status) == ("succeeded", "paid")
    assert rejected.status == "refunded"
    # refunds what is left of a payment
    payment = world["payment"]
    asked = _confirmed_action(browser, "refund_in_full", [payment])
    assert payment.order.number in asked.content.decode()
    payment.refresh_from_db()
    assert payment.refunded_amount == payment.amount
    # reads the reports
    assert browser.get("/admin/reports/report/").status_code == 200
    assert browser.get("/admin/reports/report/orders/").status_code == 200


def test_shop_manager_refunds_and_reads_reports_in_the_admin(admin_as, world):
    browser = admin_as(roles.SHOP_MANAGER)
    payment = world["payment"]
    _confirmed_action(browser, "refund_in_full", [payment])
    payment.refresh_from_db()
    assert payment.refunded_amount == payment.amount
    assert browser.get("/admin/reports/report/orders/").status_code == 200


def test_payment_actions_are_not_offered_without_finance_rights(admin_as, world):
    browser = admin_as(roles.CUSTOMER_SERVICE)  # sees payments, may not refund or review
    payment = world["payment"]
    listing = browser.get(PAYMENTS_ADMIN).content.decode()
    assert "refund_in_full" not in listing and "approve_review" not in listing
    for extra in ({}, {"apply": "yes"}):
        browser.post(
            PAYMENTS_ADMIN,
            {"action": "refund_in_full", "_selected_action": [str(payment.pk)], **extra},
        )
    payment.refresh_from_db()
    assert payment.refunded_amount == 0
    assert browser.get("/admin/reports/report/orders/").status_code == 403


@pytest.mark.parametrize("role", [roles.WAREHOUSE, roles.CUSTOMER_SERVICE])
def test_cancelling_a_paid_order_refunds_it_and_needs_the_refund_permission(staff_in, world, role):
    payment = _paid_payment(world["shopper"], world["product"])
    order = payment.order
    response = staff_in(role).post(
        f"{ORDERS}{order.number}/transition/", {"status": "cancelled"}, format="json"
    )
    assert response.status_code == 403
    assert error_code(response) == "permission_denied"
    assert "refund" in response.json()["detail"]
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and not Refund.objects.exists()

    manager = staff_in(roles.SHOP_MANAGER)  # holds payments.refund_payment
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = manager.post(
            f"{ORDERS}{order.number}/transition/", {"status": "cancelled"}, format="json"
        )
    assert response.status_code == 200, response.json()
    assert Refund.objects.get(payment=payment).amount == payment.amount


def test_refunded_is_never_set_by_hand(staff_in, world):
    payment = _paid_payment(world["shopper"], world["product"])
    order = payment.order
    manager = staff_in(roles.SHOP_MANAGER)
    for step in ("processing", "shipped", "delivered"):
        response = manager.post(
            f"{ORDERS}{order.number}/transition/", {"status": step}, format="json"
        )
        assert response.status_code == 200, response.json()
    for by_hand in ("refunded", "partially_refunded"):
        response = manager.post(
            f"{ORDERS}{order.number}/transition/", {"status": by_hand}, format="json"
        )
        assert response.status_code == 409 and error_code(response) == "invalid_transition"
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED and order.refunded_total == 0
