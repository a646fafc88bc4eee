"""Every main page, for a guest and for a shopper: titled, labelled, CSRF-protected, accessible
and usable on a 375 px phone."""

import pytest

from tests.factories import DEFAULT_PASSWORD, UserFactory

from .conftest import PHONE
from .journey import (
    add_to_cart,
    assert_fits_width,
    assert_sound_page,
    check_out,
    log_in,
    shop_with_stock,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GUEST_PAGES = (
    "/",
    "/?search=pot&in_stock=on&ordering=price",
    "/products/moka-pot/",
    "/cart/",
    "/account/login/",
    "/account/register/",
    "/account/password/reset/",
    "/account/verify/resend/",
)


def test_guest_pages_are_sound_on_desktop_and_phone(new_page, screenshot):
    shop_with_stock()
    desktop = new_page()
    phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    for path in GUEST_PAGES:
        desktop.goto(path)
        assert_sound_page(desktop, path)
        phone.goto(path)
        assert_fits_width(phone)
    phone.goto("/account/login/")
    screenshot(phone, "phone-login")


def test_shopper_pages_are_sound_on_desktop_and_phone(new_page, screenshot):
    shop_with_stock()
    shopper = UserFactory(email="lin@example.com")
    desktop = new_page()
    phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    for page in (desktop, phone):
        log_in(page, email=shopper.email, password=DEFAULT_PASSWORD)
    add_to_cart(desktop, slug="moka-pot", quantity=1)
    number = check_out(desktop)
    add_to_cart(desktop, slug="sencha", quantity=2)
    pages = (
        "/cart/",
        "/checkout/",
        "/orders/",
        f"/orders/{number}/",
        f"/orders/{number}/pay/",
        "/account/",
        "/account/password/change/",
    )
    for path in pages:
        desktop.goto(path)
        assert_sound_page(desktop, path)
        phone.goto(path)
        assert_fits_width(phone)
    phone.goto("/checkout/")
    screenshot(phone, "phone-checkout")
    phone.goto(f"/orders/{number}/pay/")
    screenshot(phone, "phone-pay")
