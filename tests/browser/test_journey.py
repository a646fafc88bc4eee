"""The whole shopper journey, and the staff side, in a real browser."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.factories import DEFAULT_PASSWORD, UserFactory

from .conftest import PHONE
from .journey import (
    DECLINED_CARD,
    GOOD_CARD,
    PASSWORD,
    add_to_cart,
    assert_fits_width,
    assert_message,
    assert_sound_page,
    cancel_order,
    check_out,
    expect_timeline,
    log_in,
    mailed_path,
    money,
    nav,
    pay,
    shop_with_stock,
    verification_path,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "ada@example.com"


@pytest.fixture
def shop():
    return shop_with_stock()


def test_shopper_registers_buys_pays_cancels_and_logs_out_everywhere(
    new_page, shop, mailoutbox, screenshot
):
    page = new_page()

    # A guest finds the moka pot through the search box and puts two in the cart.
    page.goto("/")
    page.get_by_label("Search products").fill("moka")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_test_id("result-count")).to_have_text("1 product")
    page.get_by_role("link", name=re.compile("Moka pot")).click()
    expect(page.get_by_test_id("availability")).to_have_text("10 available")
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    page.wait_for_url("**/products/moka-pot/")
    assert_message(page, "Added 2 x Moka pot to your cart.")
    expect(page.get_by_test_id("cart-count")).to_contain_text("2")
    nav(page).get_by_role("link", name="Cart").click()
    expect(page.get_by_test_id("cart-item")).to_have_count(1)
    expect(page.get_by_test_id("cart-subtotal")).to_have_text(money("69.80"))
    screenshot(page, "journey-01-guest-cart")
    assert_sound_page(page, "the cart")

    # Registering: a mistake is shown next to its field, then the account is made.
    nav(page).get_by_role("link", name="Register").click()
    expect(page).to_have_title(f"Create an account · {settings.SHOP_NAME}")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Shopper")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD + "x")
    page.get_by_role("button", name="Register").click()
    confirm_field = page.locator(".field", has=page.get_by_label("Password again"))
    assert confirm_field.locator(".error").inner_text().endswith("The two passwords do not match.")
    # Screen readers hear the error with the field: aria-invalid and aria-describedby point at it.
    confirm = page.get_by_label("Password again")
    assert confirm.get_attribute("aria-invalid") == "true"
    described = confirm.get_attribute("aria-describedby").split()
    assert any(
        "do not match" in page.locator(f"#{element_id}").inner_text() for element_id in described
    )
    screenshot(page, "journey-02-register-error")
    assert_sound_page(page, "the registration form with an error")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Register").click()
    page.wait_for_url("**/account/login/")
    assert_message(page, "Check your inbox")
    assert [message.to for message in mailoutbox] == [[EMAIL]]

    # Logging in before confirming the address is refused with a clear reason.
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".form-errors")).to_be_visible()
    assert "confirm" in page.locator(".form-errors").inner_text().lower()

    # The link from the email confirms the address.
    page.goto(verification_path(EMAIL))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your email address")
    assert_sound_page(page, "the email confirmation page")
    page.get_by_role("button", name="Confirm my email address").click()
    page.wait_for_url("**/account/login/")
    assert_message(page, "Your email address is confirmed.")
    screenshot(page, "journey-03-login")
    assert_sound_page(page, "the login page")

    # After logging in, the guest cart is still there.
    log_in(page, email=EMAIL)
    assert_message(page, "You are logged in.")
    expect(nav(page).get_by_role("link", name="Account")).to_be_visible()
    nav(page).get_by_role("link", name="Cart").click()
    page.wait_for_url("**/cart/")
    expect(page.get_by_test_id("cart-item")).to_have_count(1)
    expect(page.get_by_test_id("cart-item")).to_contain_text("Moka pot")
    expect(page.get_by_test_id("cart-subtotal")).to_have_text(money("69.80"))

    # Browsing by category and adding a second product.
    page.goto("/")
    page.get_by_role("link", name="Coffee", exact=True).click()
    expect(page.get_by_test_id("result-count")).to_have_text("2 products")
    page.get_by_role("link", name=re.compile("Burr grinder")).click()
    page.get_by_role("button", name="Add to cart").click()
    assert_message(page, "Added 1 x Burr grinder to your cart.")
    page.goto("/cart/")
    expect(page.get_by_test_id("cart-item")).to_have_count(2)
    expect(page.get_by_test_id("cart-subtotal")).to_have_text(money("218.80"))

    # Checkout: the address form, with its errors next to the fields.
    page.get_by_role("link", name="Check out").click()
    page.wait_for_url("**/checkout/")
    expect(page.get_by_test_id("checkout-total")).to_have_text(money("218.80"))
    page.get_by_role("button", name="Place order").click()
    # The name comes from the account; the street is still missing.
    expect(page.get_by_label("Full name")).to_have_value("Ada Shopper")
    street_field = page.locator(".field", has=page.get_by_label("Address", exact=True))
    expect(street_field.locator(".error")).to_have_count(1)
    screenshot(page, "journey-04-checkout-errors")
    assert_sound_page(page, "the checkout page with errors")
    number = check_out(page)
    assert_message(page, f"Order {number} placed.")
    expect(page.get_by_test_id("amount-due")).to_have_text(money("218.80"))
    screenshot(page, "journey-05-pay")
    assert_sound_page(page, "the payment page")

    # The declined card first, then the good one.
    pay(page, card=DECLINED_CARD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Payment not completed")
    assert_message(page, "Your payment was declined.")
    screenshot(page, "journey-06-declined")
    assert_sound_page(page, "the payment failure page")
    page.get_by_role("link", name="Try again").click()
    pay(page, card=GOOD_CARD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you!")
    expect(page.get_by_test_id("order-status")).to_have_text("Paid")
    assert_message(page, f"Thank you: order {number} is paid.")
    screenshot(page, "journey-07-paid")
    assert_sound_page(page, "the payment success page")

    # The order history and the order's timeline.
    nav(page).get_by_role("link", name="Orders").click()
    page.wait_for_url("**/orders/")
    rows = page.get_by_test_id("order-row")
    expect(rows).to_have_count(1)
    assert number in rows.first.inner_text() and "Paid" in rows.first.inner_text()
    assert "218.80" in rows.first.inner_text()
    screenshot(page, "journey-08-order-history")
    assert_sound_page(page, "the order history")
    rows.first.get_by_role("link", name=number).click()
    expect(page.get_by_test_id("order-status")).to_have_text("Paid")
    expect_timeline(page, ["Pending payment", "Paid"])
    expect(page.get_by_test_id("order-line")).to_have_count(2)
    expect(page.get_by_test_id("order-total")).to_have_text(money("218.80"))
    expect(page.get_by_role("link", name="Cancel order")).to_have_count(0)
    screenshot(page, "journey-09-order-detail")
    assert_sound_page(page, "the order page")

    # A second order is left unpaid, then cancelled: its stock comes back.
    add_to_cart(page, slug="sencha", quantity=2)
    second = check_out(page)
    page.goto("/products/sencha/")
    expect(page.get_by_test_id("availability")).to_have_text("28 available")
    page.goto(f"/orders/{second}/")
    expect(page.get_by_test_id("order-status")).to_have_text("Pending payment")
    expect(page.get_by_role("link", name="Pay now")).to_be_visible()
    cancel_order(page)
    assert_message(page, f"Order {second} was cancelled.")
    expect(page.get_by_test_id("order-status")).to_have_text("Cancelled")
    expect_timeline(page, ["Pending payment", "Cancelled"])
    expect(page.get_by_role("link", name="Pay now")).to_have_count(0)
    page.goto("/products/sencha/")
    expect(page.get_by_test_id("availability")).to_have_text("30 available")
    page.goto("/orders/")
    expect(page.get_by_test_id("order-row")).to_have_count(2)

    # A second device logs in; the first sees both on the account page and ends the other.
    phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    log_in(phone, email=EMAIL)
    assert_message(phone, "You are logged in.")
    page.goto("/account/")
    sessions = page.get_by_test_id("session-row")
    expect(sessions).to_have_count(2)
    expect(page.get_by_text("this device")).to_have_count(1)
    screenshot(page, "journey-10-sessions")
    assert_sound_page(page, "the account page")
    other = sessions.filter(has_not_text="this device")
    other.get_by_role("button", name="End").click()
    assert_message(page, "The session has ended.")
    expect(page.get_by_test_id("session-row")).to_have_count(1)
    phone.goto("/orders/")
    assert "/account/login/" in phone.url, "the ended session still opens pages"
    screenshot(phone, "journey-11-phone-logged-out")

    # Log out everywhere: the phone (logged in again) is logged out too.
    log_in(phone, email=EMAIL)
    phone.goto("/orders/")
    expect(phone.get_by_test_id("order-row")).to_have_count(2)
    assert_fits_width(phone)
    screenshot(phone, "journey-12-phone-orders")
    for path in (f"/orders/{number}/", "/account/", "/cart/", "/"):
        phone.goto(path)
        assert_fits_width(phone)
    phone.goto(f"/orders/{number}/")
    screenshot(phone, "journey-13-phone-order-detail")
    page.goto("/account/")
    page.get_by_role("button", name="Log out everywhere").click()
    page.wait_for_url("**/account/login/")
    assert_message(page, "You are logged out on every device.")
    expect(nav(page).get_by_role("link", name="Log in")).to_be_visible()
    phone.goto("/orders/")
    assert "/account/login/" in phone.url
    page.goto("/orders/")
    assert "/account/login/" in page.url


def test_staff_ships_an_order_receives_stock_and_refunds_part_of_it(
    new_page, shop, mailoutbox, screenshot
):
    shopper = UserFactory(email="grace@example.com", first_name="Grace")
    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)

    # A shopper buys two of the six burr grinders: four left, at or below the threshold of 5.
    page = new_page()
    log_in(page, email=shopper.email, password=DEFAULT_PASSWORD)
    add_to_cart(page, slug="burr-grinder", quantity=2)
    number = check_out(page)
    pay(page, card=GOOD_CARD)
    expect(page.get_by_test_id("order-status")).to_have_text("Paid")

    # Staff log into the admin.
    admin = new_page()
    admin.goto("/admin/")
    admin.locator("#id_username").fill(staff.email)
    admin.locator("#id_password").fill(DEFAULT_PASSWORD)
    admin.get_by_role("button", name="Log in").click()
    expect(admin.get_by_role("heading", name="Site administration")).to_be_visible()

    # The dashboard says what waits: one paid order to ship.
    expect(admin.locator("#shop-dashboard")).to_contain_text("1 Orders paid, not shipped")
    screenshot(admin, "staff-00-dashboard")

    # A bulk action shows what will change before it changes anything.
    admin.goto("/admin/orders/order/")
    row = admin.locator("#result_list tbody tr", has_text=number)
    assert "Paid" in row.inner_text()
    row.locator("input.action-select").check()
    admin.locator("select[name=action]").select_option(
        label="Start processing for the selected orders…"
    )
    admin.get_by_role("button", name="Go").click()
    expect(admin.locator("#content")).to_contain_text("These orders will become processing")
    admin.get_by_role("button", name="Yes, start processing for 1 order").click()
    assert_admin_message(admin, "1 order(s) marked processing.")

    # On the order page, only the allowed steps are offered, each confirmed with a note.
    admin.locator("#result_list tbody tr", has_text=number).get_by_role("link", name=number).click()
    expect(admin.get_by_role("link", name="Mark shipped")).to_be_visible()
    expect(admin.get_by_role("link", name="Mark delivered")).to_have_count(0)
    expect(admin.locator("input[name=_save]")).to_have_count(0)
    admin.get_by_role("link", name="Mark shipped").click()
    expect(admin.locator("#content")).to_contain_text("Processing → Shipped")
    admin.get_by_label("Note").fill("DHL 123456")
    screenshot(admin, "staff-01a-confirm-shipping")
    admin.get_by_role("button", name="Yes, mark shipped").click()
    assert_admin_message(admin, f"Order {number} is now shipped.")
    expect(admin.locator("div.form-row.field-status")).to_contain_text("Shipped")
    screenshot(admin, "staff-01-orders-shipped")

    # The shopper sees it, with the whole timeline, and got an email.
    page.goto(f"/orders/{number}/")
    expect(page.get_by_test_id("order-status")).to_have_text("Shipped")
    expect_timeline(page, ["Pending payment", "Paid", "Processing", "Shipped"])
    subjects = [m.subject for m in mailoutbox if shopper.email in m.to]
    assert any(number in s and "on its way" in s for s in subjects), subjects

    # The low-stock alert is open.
    admin.goto("/admin/inventory/stockalert/")
    alert = admin.locator("#result_list tbody tr", has_text="Burr grinder")
    expect(alert).to_have_count(1)
    assert "Low stock" in alert.inner_text() and "Open" in alert.inner_text()
    screenshot(admin, "staff-02-low-stock-alert")
    assert any("Low stock: Burr grinder" in m.subject for m in mailoutbox)

    # Receiving twenty more closes it.
    admin.goto("/admin/inventory/stockitem/")
    item = admin.locator("#result_list tbody tr", has_text="Burr grinder")
    assert "4" in item.locator("td.field-available_units").inner_text()
    item.get_by_role("link", name="Receive").click()
    admin.get_by_label("Quantity").fill("20")
    admin.get_by_label("Batch number").fill("B-2026-11")
    admin.get_by_role("button", name=re.compile("^Receive stock")).click()
    admin.wait_for_url(re.compile(r"/admin/inventory/stockitem/\d+/change/$"))
    assert_admin_message(admin, "Received 20 unit(s).")
    screenshot(admin, "staff-03-stock-received")
    admin.goto("/admin/inventory/stockalert/")
    alert = admin.locator("#result_list tbody tr", has_text="Burr grinder")
    assert "Closed" in alert.inner_text()
    page.goto("/products/burr-grinder/")
    expect(page.get_by_test_id("availability")).to_have_text("24 available")

    # Delivered; one grinder comes back broken: refund part of it, with a confirmation.
    admin.goto("/admin/orders/order/")
    admin.get_by_role("link", name=number).click()
    admin.get_by_role("link", name="Mark delivered").click()
    admin.get_by_role("button", name="Yes, mark delivered").click()
    assert_admin_message(admin, f"Order {number} is now delivered.")
    admin.get_by_role("link", name="Refund…").click()
    admin.get_by_label("Amount").fill("10.00")
    admin.get_by_label("Reason").fill("One arrived broken.")
    admin.get_by_label("Put goods back on the shelf").check()
    admin.get_by_label(re.compile("^Burr grinder")).fill("1")
    admin.get_by_role("button", name="Review refund").click()
    summary = admin.locator("ul.refund-summary")
    expect(summary).to_contain_text("Give back 10.00")
    expect(summary).to_contain_text("The order becomes partially refunded.")
    expect(summary).to_contain_text("Back on the shelf: 1 \u00d7 Burr grinder")
    screenshot(admin, "staff-04-confirm-refund")
    admin.get_by_role("button", name=re.compile("^Yes, refund 10.00")).click()
    assert_admin_message(admin, f"Refund of 10.00 {settings.SHOP_CURRENCY} on order {number}")
    expect(admin.locator("div.form-row.field-status")).to_contain_text("Partially refunded")
    expect(admin.locator("#content")).to_contain_text("One arrived broken.")
    screenshot(admin, "staff-05-refunded")
    page.goto("/products/burr-grinder/")
    expect(page.get_by_test_id("availability")).to_have_text("25 available")


def assert_admin_message(page, text: str) -> None:
    expect(page.locator("ul.messagelist li", has_text=text)).to_be_visible()


def test_shopper_resets_a_forgotten_password_and_old_sessions_end(new_page, shop, mailoutbox):
    shopper = UserFactory(email="ines@example.com")
    laptop, phone = new_page(), new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    log_in(phone, email=shopper.email, password=DEFAULT_PASSWORD)
    assert_message(phone, "You are logged in.")

    laptop.goto("/account/login/")
    laptop.get_by_role("link", name="Forgot your password?").click()
    expect(laptop.get_by_role("heading", level=1)).to_have_text("Reset your password")
    laptop.get_by_label("Email").fill(shopper.email)
    laptop.get_by_role("button", name="Send reset link").click()
    assert_message(laptop, "a reset link is on its way")

    laptop.goto(mailed_path(shopper.email, "/account/reset/"))
    expect(laptop.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    assert_sound_page(laptop, "the new password form")
    laptop.get_by_label("New password", exact=True).fill("short")
    laptop.get_by_label("New password again").fill("short")
    laptop.get_by_role("button", name="Set password").click()
    expect(laptop.locator(".field-error, .form-errors").first).to_be_visible()
    laptop.get_by_label("New password", exact=True).fill(PASSWORD)
    laptop.get_by_label("New password again").fill(PASSWORD)
    laptop.get_by_role("button", name="Set password").click()
    assert_message(laptop, "Your password is set")

    # The old password no longer works, the new one does, and the phone was logged out.
    log_in(laptop, email=shopper.email, password=DEFAULT_PASSWORD)
    expect(laptop.locator(".form-errors")).to_be_visible()
    log_in(laptop, email=shopper.email, password=PASSWORD)
    assert_message(laptop, "You are logged in.")
    phone.goto("/orders/")
    phone.wait_for_url("**/account/login/**")
