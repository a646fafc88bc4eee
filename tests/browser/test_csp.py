"""The Content-Security-Policy holds on the shop pages, the admin and the API docs.

Every browser test fails on a CSP violation reported by its pages (conftest.new_page);
this one visits the pages no journey reaches: the admin's lists and forms and the API docs.
"""

import pytest
from playwright.sync_api import expect

from tests.factories import DEFAULT_PASSWORD, UserFactory

from .journey import shop_with_stock

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_PAGES = (
    "/admin/",
    "/admin/catalog/product/",
    "/admin/catalog/product/add/",
    "/admin/catalog/category/",
    "/admin/catalog/category/add/",
    "/admin/orders/order/",
    "/admin/inventory/stockitem/",
    "/admin/accounts/user/",
    "/admin/outbox/outboxmessage/",
)


def _policy(response) -> str:
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy, policy
    return policy


def test_shop_pages_are_served_under_the_policy(page, csp_violations):
    shop_with_stock()
    for path in ("/", "/products/moka-pot/", "/cart/", "/account/login/"):
        _policy(page.goto(path))
    assert csp_violations == []


def test_the_admin_works_under_the_policy(page, csp_violations):
    shop_with_stock()
    staff = UserFactory(is_staff=True, is_superuser=True)
    _policy(page.goto("/admin/"))
    page.locator("#id_username").fill(staff.email)
    page.locator("#id_password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    for path in ADMIN_PAGES:
        _policy(page.goto(path))
        expect(page.locator("#content")).to_be_visible()
    # The admin's own scripts run: the slug is prepopulated from the name as it is typed.
    page.goto("/admin/catalog/category/add/")
    page.locator("#id_name").press_sequentially("Green Tea")
    expect(page.locator("#id_slug")).to_have_value("green-tea")
    # And so does the changelist's select-all checkbox (actions.js).
    page.goto("/admin/catalog/product/")
    page.locator("#action-toggle").check()
    expect(page.locator(".action-counter")).to_contain_text("selected")
    assert csp_violations == []


def test_the_api_docs_render_under_the_policy(page, csp_violations):
    _policy(page.goto("/api/docs/"))
    # Swagger UI ran (its start script is a file) and drew the operations from the schema.
    # (The schema is generated on request: allow a slow machine its time.)
    expect(page.locator("#swagger-ui .opblock").first).to_be_visible(timeout=60_000)
    expect(page.locator("#swagger-ui")).to_contain_text("/api/v1/products/")
    assert csp_violations == []


def test_a_violation_on_any_page_is_reported(page, csp_violations):
    """The watcher every browser test carries sees blocked inline script and style."""
    page.route(
        "**/csp-probe/",
        lambda route: route.fulfill(
            status=200,
            headers={"content-type": "text/html", "content-security-policy": "default-src 'self'"},
            body="<p style='color: red'>x</p><script>document.title = 'ran'</script>",
        ),
    )
    page.goto("/csp-probe/")
    expect(page).not_to_have_title("ran")
    page.wait_for_timeout(500)
    reported = " ".join(csp_violations)
    assert "script-src" in reported and "style-src" in reported, csp_violations
    csp_violations.clear()  # seen and expected: do not fail this test at teardown
