"""The shopper's new paths at desktop and phone width: typo search, address book, delivery
choice, guest checkout, cancel confirmation. Every page: axe-clean, no sideways scrolling."""

import re
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from playwright.sync_api import expect

from catalog import services as catalog_services
from inventory.management.demo_images import demo_product_image
from orders.models import Order, OrderStatus, ShippingMethod
from tests.factories import DEFAULT_PASSWORD, UserFactory

from .conftest import DESKTOP, PHONE
from .journey import (
    GOOD_CARD,
    add_to_cart,
    assert_fits_width,
    assert_message,
    assert_sound_page,
    cancel_order,
    fill_address,
    log_in,
    mailed_path,
    money,
    nav,
    pay,
    shop_with_stock,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture
def shop():
    products = shop_with_stock()
    picture = demo_product_image(sku="MOKA-3", name="Moka pot", category="equipment")
    catalog_services.product_update(
        product=products["moka"], image=ContentFile(picture, name="moka.jpg")
    )
    ShippingMethod.objects.create(
        name="Standard delivery",
        price=Decimal("4.90"),
        free_over=Decimal("50.00"),
        delivery_estimate="3-5 working days",
    )
    ShippingMethod.objects.create(
        name="Express delivery",
        price=Decimal("12.90"),
        delivery_estimate="1-2 working days",
        countries=["DE", "AT"],
        position=1,
    )
    return products


@pytest.fixture(params=list(WIDTHS))
def width(request):
    return request.param


@pytest.fixture
def browse(new_page, width):
    """A page at the test's width (a phone is touch, 2x)."""
    if width == "phone":
        return new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    return new_page(viewport=DESKTOP)


def check(page, what: str) -> None:
    assert_fits_width(page)
    assert_sound_page(page, what)


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("typo search (trigram similarity) needs PostgreSQL")


def test_typo_search_finds_results_first_even_on_a_phone(
    postgres_only, browse, width, shop, screenshot
):
    page = browse
    page.goto("/")
    page.get_by_label("Search products").fill("grindr")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Results for “grindr”")
    expect(page.locator(".product-card .product-name")).to_have_text(["Burr grinder"])
    # One search box, and the first product is near the top; filters wait behind a button.
    expect(page.locator("input[type=search]")).to_have_count(1)
    first = page.locator(".product-card").first.bounding_box()
    assert first["y"] < 400, f"the first result starts {first['y']}px down"
    filters = page.get_by_test_id("filters")
    if width == "phone":
        expect(filters.get_by_label("Category")).to_be_hidden()
        filters.locator("summary").click()
        expect(filters.get_by_label("Category")).to_be_visible()
        screenshot(page, "phone-375-product-list-search")
    else:
        expect(filters.get_by_label("Category")).to_be_visible()
    check(page, f"search results ({width})")

    page.get_by_label("Search products").fill("kettle xylophone")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_test_id("no-results")).to_be_visible()
    expect(page.get_by_role("link", name="Coffee").first).to_be_visible()
    check(page, f"a search with no results ({width})")

    # Pictures: a thumbnail and the full image to pick from, a fixed box, loaded lazily.
    page.goto("/")
    image = page.locator(".product-card img").first
    assert image.get_attribute("loading") == "lazy"
    assert (image.get_attribute("width"), image.get_attribute("height")) == ("400", "400")
    assert " 400w" in image.get_attribute("srcset") and " 800w" in image.get_attribute("srcset")
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") > 0
    if width == "phone":
        screenshot(page, "phone-375-product-list")


def test_address_book_delivery_choice_and_totals_above_the_button(browse, width, shop, screenshot):
    page = browse
    user = UserFactory(email=f"ada-{width}@example.com", first_name="Ada", last_name="Lovelace")
    log_in(page, email=user.email, password=DEFAULT_PASSWORD)

    # The address book: the first address becomes the default.
    page.goto("/account/")
    page.get_by_test_id("address-book").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your addresses")
    expect(page.get_by_label("Full name")).to_have_value("Ada Lovelace")
    fill_address(page)
    page.get_by_role("button", name="Save address").click()
    assert_message(page, "Address saved.")
    expect(page.get_by_test_id("address-card")).to_have_count(1)
    expect(page.get_by_test_id("default-address")).to_have_count(1)
    expect(page.get_by_test_id("address-card")).to_contain_text("Germany")
    check(page, f"the address book ({width})")
    if width == "phone":
        page.goto("/account/")
        screenshot(page, "phone-375-account")
        check(page, "the account page (phone)")

    # Checkout picks the saved address; Express ships to Germany.
    add_to_cart(page, slug="moka-pot", quantity=1)
    expect(nav(page).get_by_test_id("cart-count")).to_contain_text("1")
    page.goto("/cart/")
    expect(page.get_by_test_id("free-shipping")).to_have_text(
        f"Add {money('15.10')} more for free shipping."
    )
    if width == "phone":
        screenshot(page, "phone-375-cart")
    check(page, f"the cart ({width})")
    page.get_by_role("link", name="Check out").click()
    page.wait_for_url("**/checkout/")
    saved = page.get_by_test_id("saved-addresses").get_by_role("radio").first
    expect(saved).to_be_checked()
    expect(page.get_by_test_id("saved-addresses")).to_contain_text("Hamburg, Germany")
    expect(page.get_by_label("Address", exact=True)).to_be_hidden()  # the saved one is used
    page.get_by_label(re.compile("Express delivery")).check()
    # The summary follows the choice before the order is placed.
    expect(page.get_by_test_id("checkout-shipping")).to_have_text(money("12.90"))
    expect(page.get_by_test_id("checkout-total")).to_have_text(money("47.80"))
    expect(page.get_by_test_id("place-order")).to_contain_text(money("47.80"))
    total = page.get_by_test_id("checkout-total")
    button = page.get_by_test_id("place-order")
    assert total.bounding_box()["y"] < button.bounding_box()["y"], "the total is below the button"
    if width == "phone":
        screenshot(page, "phone-375-checkout")
    check(page, f"checkout ({width})")
    button.click()
    page.wait_for_url(re.compile(r"/orders/[^/]+/pay/$"))
    order = Order.objects.get(user=user)
    assert (order.shipping_method_name, order.shipping) == ("Express delivery", Decimal("12.90"))
    assert order.shipping_address["country"] == "DE"
    expect(page.get_by_test_id("amount-due")).to_have_text(money("47.80"))

    # Cancelling asks first; "No, keep it" keeps the order.
    page.goto(f"/orders/{order.number}/")
    expect(page.get_by_test_id("order-address")).to_contain_text("Germany")
    check(page, f"the order page ({width})")
    page.get_by_role("link", name="Cancel order").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Cancel order {order.number}?")
    check(page, f"the cancel confirmation ({width})")
    page.get_by_role("link", name="No, keep it").click()
    expect(page.get_by_test_id("order-status")).to_have_text("Pending payment")
    cancel_order(page)
    assert_message(page, f"Order {order.number} was cancelled.")
    expect(page.get_by_test_id("order-status")).to_have_text("Cancelled")
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED


def test_guest_checks_out_pays_and_reopens_the_order_from_the_email(
    browse, width, shop, mailoutbox
):
    page = browse
    email = f"guest-{width}@example.com"
    add_to_cart(page, slug="sencha", quantity=2)
    page.goto("/checkout/")
    expect(page.get_by_test_id("guest-notice")).to_be_visible()
    check(page, f"guest checkout ({width})")
    page.get_by_label("Email address").fill(email)
    fill_address(page)
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(r"/orders/[^/]+/pay/$"))
    number = re.search(r"/orders/([^/]+)/pay/$", page.url).group(1)
    pay(page, card=GOOD_CARD)
    expect(page.get_by_test_id("order-status")).to_have_text("Paid")
    assert Order.objects.get(number=number).user is None

    # Later, on another device, the link in the confirmation opens the order.
    other = browse.context.browser.new_context(
        base_url=page.url.split("/orders/")[0], viewport=WIDTHS[width]
    )
    try:
        elsewhere = other.new_page()
        elsewhere.goto(mailed_path(email, "/orders/guest/"))
        expect(elsewhere.get_by_role("heading", level=1)).to_contain_text(number)
        expect(elsewhere.get_by_test_id("guest-account")).to_be_visible()
        expect(elsewhere.get_by_test_id("password-rules")).to_be_visible()
        check(elsewhere, f"the guest's order page ({width})")
    finally:
        other.close()
