"""Steps of the shopper's journey, shared by the journey tests: each does what a person does."""

import re
from decimal import Decimal

from django.conf import settings
from django.core import mail
from playwright.sync_api import expect

from catalog.templatetags.shop_format import money_format
from inventory import services as inventory_services
from tests.factories import CategoryFactory, ProductFactory

from .axe import assert_accessible

PASSWORD = "Blue-kettle-42-morning"
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"
ADDRESS = {
    "Full name": "Ada Shopper",
    "Address": "12 Harbour Street",
    "City": "Hamburg",
    "Postal code": "20457",
}
COUNTRY = "DE"


def shop_with_stock():
    """A small shop whose products have stock received through the inventory service."""
    coffee = CategoryFactory(name="Coffee", slug="coffee", position=1)
    tea = CategoryFactory(name="Tea", slug="tea", position=2)
    products = {
        "moka": ProductFactory(
            name="Moka pot", slug="moka-pot", sku="MOKA-3", category=coffee, price=Decimal("34.90")
        ),
        "grinder": ProductFactory(
            name="Burr grinder",
            slug="burr-grinder",
            sku="GRIND-1",
            category=coffee,
            price=Decimal("149.00"),
        ),
        "sencha": ProductFactory(
            name="Sencha", slug="sencha", sku="TEA-SEN", category=tea, price=Decimal("8.50")
        ),
    }
    for key, quantity in {"moka": 10, "grinder": 6, "sencha": 30}.items():
        item = inventory_services.stock_item_for_product(product=products[key])
        inventory_services.stock_receive(stock_item=item, quantity=quantity, reference="opening")
    return products


def messages(page) -> list[str]:
    return page.locator(".messages .message").all_inner_texts()


def assert_message(page, text: str) -> None:
    """Wait for the flash message after an action; fail showing the messages there are."""
    try:
        expect(page.locator(".messages .message", has_text=text)).to_be_visible()
    except AssertionError:
        raise AssertionError(f"no message {text!r}; shown: {messages(page)}") from None


def nav(page):
    return page.get_by_role("navigation", name="Main")


def add_to_cart(page, *, slug: str, quantity: int = 1) -> None:
    """Add from the product page, which stays open and confirms it."""
    page.goto(f"/products/{slug}/")
    page.get_by_label("Quantity").fill(str(quantity))
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_url(f"**/products/{slug}/")
    assert_message(page, "to your cart.")


def money(amount: str) -> str:
    """Return the amount as the shop writes it (SHOP_LOCALE), e.g. €69.80."""
    return money_format(Decimal(amount))


def cancel_order(page) -> None:
    """Cancel from the order page: the button asks first, on a page of its own."""
    page.get_by_role("link", name="Cancel order").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Cancel order")
    page.get_by_role("button", name="Yes, cancel the order").click()


def mailed_path(email: str, prefix: str) -> str:
    """Return the path of the newest link starting with `prefix` mailed to `email`."""
    pattern = re.compile(r"https?://[^/\s]+(" + re.escape(prefix) + r"[^\s]+/)")
    for message in reversed(mail.outbox):
        if email in message.to and (found := pattern.search(message.body)):
            return found.group(1)
    raise AssertionError(f"no {prefix} link mailed to {email}: {[m.subject for m in mail.outbox]}")


def verification_path(email: str) -> str:
    return mailed_path(email, "/account/verify/")


def log_in(page, *, email: str, password: str = PASSWORD) -> None:
    page.goto("/account/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def fill_address(page) -> None:
    for label, value in ADDRESS.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Country", exact=True).select_option(COUNTRY)


def check_out(page) -> str:
    """Check out the cart with the standard address; return the new order's number."""
    page.goto("/checkout/")
    if not page.get_by_test_id("saved-addresses").count():  # else the saved default is used
        fill_address(page)
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/orders/[^/]+/pay/$"))
    return re.search(r"/orders/([^/]+)/pay/$", page.url).group(1)


def pay(page, *, card: str) -> None:
    page.get_by_label("Card number").fill(card)
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    page.wait_for_url(re.compile(r"/pay/(success|failed)/$"))


def assert_fits_width(page) -> None:
    """Fail when the page scrolls sideways (it must fit a 375 px phone)."""
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    if overflow > 0:
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                .filter(el => el.getBoundingClientRect().right
                              > document.documentElement.clientWidth)
                .slice(0, 5).map(el => el.tagName.toLowerCase() + '.' + el.className)"""
        )
        raise AssertionError(f"{page.url} scrolls sideways by {overflow}px: {wide}")


def expect_timeline(page, statuses: list[str]) -> None:
    """The order's status history shows exactly these statuses, oldest first."""
    expect(page.get_by_test_id("timeline").locator("li strong")).to_have_text(statuses)


def assert_sound_page(page, what: str) -> None:
    """Check what every shop page owes its visitor: a title, labels, CSRF tokens, no axe errors."""
    title = page.title()
    assert (
        title.endswith(f" · {settings.SHOP_NAME}") and len(title) > len(settings.SHOP_NAME) + 3
    ), f"{what}: unhelpful title {title!r}"
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(el => el.type !== 'hidden' && el.labels.length === 0
                          && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
            .map(el => el.name || el.id)"""
    )
    assert unlabelled == [], f"{what}: inputs without a label: {unlabelled}"
    unprotected = page.evaluate(
        """() => [...document.querySelectorAll('form')]
            .filter(form => form.method.toLowerCase() === 'post'
                            && !form.querySelector('input[name=csrfmiddlewaretoken]'))
            .map(form => form.getAttribute('action') || '(this page)')"""
    )
    assert unprotected == [], f"{what}: POST forms without a CSRF token: {unprotected}"
    assert_accessible(page, what)
