"""The admin's lists fit a 1366 px screen: no column cut off, no sideways scroll."""

import pytest
from playwright.sync_api import expect

from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.orders.factories import place_order

from .journey import GOOD_CARD, log_in, pay, shop_with_stock

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 768}
LISTS = [
    "/admin/orders/order/",
    "/admin/payments/payment/",
    "/admin/catalog/product/",
    "/admin/inventory/stockitem/",
    "/admin/inventory/stockmovement/",
    "/admin/accounts/session/",
    "/admin/accounts/authevent/",
    "/admin/accounts/user/",
]
# How far the results table reaches past its box, and the page past the window.
OVERFLOW = """() => {
    const table = document.querySelector('#result_list');
    const box = document.querySelector('.results') || table.parentElement;
    return {
        rows: table.querySelectorAll('tbody tr').length,
        table: table.scrollWidth - box.clientWidth,
        page: document.documentElement.scrollWidth - window.innerWidth,
    };
}"""


def test_admin_lists_fit_a_1366_px_screen(new_page, screenshot):
    products = shop_with_stock()
    shopper = UserFactory(email="grace.hopper-long-address@example.com", first_name="Grace")
    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    place_order(shopper, {products["moka"]: 1})  # an unpaid order, its reservation, ledger rows

    shop = new_page(viewport=LAPTOP)  # a paid order, a payment, a web session, auth events
    log_in(shop, email=shopper.email, password=DEFAULT_PASSWORD)
    paid = place_order(shopper, {products["moka"]: 2})
    shop.goto(f"/orders/{paid.number}/pay/")
    pay(shop, card=GOOD_CARD)

    admin = new_page(viewport=LAPTOP)
    admin.goto("/admin/")
    admin.locator("#id_username").fill(staff.email)
    admin.locator("#id_password").fill(DEFAULT_PASSWORD)
    admin.get_by_role("button", name="Log in").click()
    expect(admin.get_by_role("heading", name="Site administration")).to_be_visible()

    cut = {}
    for path in LISTS:
        admin.goto(path)
        measured = admin.evaluate(OVERFLOW)
        assert measured["rows"] > 0, f"{path} shows no rows to measure"
        if measured["table"] > 1 or measured["page"] > 1:
            cut[path] = measured
            screenshot(admin, "admin-1366-" + path.strip("/").replace("/", "-"))
    assert cut == {}, f"lists wider than a 1366 px screen: {cut}"
