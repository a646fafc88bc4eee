"""The shop front in a real browser: browse, search, filter, product page, error pages."""

import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import override_settings
from playwright.sync_api import expect

from inventory.models import StockItem
from tests.factories import CategoryFactory, ProductFactory

from .axe import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def catalog():
    """A small shop: coffee (with a sub-category) and tea, some products out of stock."""
    coffee = CategoryFactory(name="Coffee", slug="coffee", position=1)
    beans = CategoryFactory(name="Beans", slug="beans", parent=coffee, position=2)
    tea = CategoryFactory(name="Tea", slug="tea", position=3)
    products = {
        "moka": ProductFactory(
            name="Moka pot",
            slug="moka-pot",
            sku="MOKA-3",
            category=coffee,
            price=Decimal("34.90"),
            description="A three-cup stovetop espresso maker.",
        ),
        "beans": ProductFactory(
            name="House espresso beans",
            slug="house-espresso",
            category=beans,
            price=Decimal("12.50"),
        ),
        "grinder": ProductFactory(
            name="Burr grinder", slug="burr-grinder", category=coffee, price=Decimal("149.00")
        ),
        "sencha": ProductFactory(name="Sencha", slug="sencha", category=tea, price=Decimal("8.20")),
        "matcha": ProductFactory(
            name="Matcha whisk", slug="matcha-whisk", category=tea, price=Decimal("19.00")
        ),
    }
    for key, on_hand in {"moka": 7, "beans": 40, "grinder": 2, "sencha": 25}.items():
        StockItem.objects.filter(product=products[key]).update(on_hand=on_hand)
    # The matcha whisk has no stock at all.
    return products


def result_names(page) -> list[str]:
    return page.locator(".product-card .product-name").all_inner_texts()


def test_shopper_browses_searches_filters_and_sorts_the_catalog(page, catalog, screenshot):
    page.goto("/")
    expect(page).to_have_title(f"Shop · {settings.SHOP_NAME}")
    expect(page.get_by_role("heading", level=1)).to_have_text("All products")
    expect(page.get_by_test_id("result-count")).to_have_text("5 products")
    screenshot(page, "catalog-home")

    page.get_by_label("Search products").fill("moka")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Results for “moka”")
    expect(page.get_by_test_id("result-count")).to_have_text("1 product")
    assert result_names(page) == ["Moka pot"]
    screenshot(page, "catalog-search")

    page.get_by_role("link", name="Clear search").click()
    page.get_by_role("link", name="Tea", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Tea")
    assert sorted(result_names(page)) == ["Matcha whisk", "Sencha"]
    expect(page).to_have_title(f"Tea · {settings.SHOP_NAME}")

    # A parent category includes its sub-categories' products.
    page.get_by_role("link", name="Coffee", exact=True).click()
    assert sorted(result_names(page)) == ["Burr grinder", "House espresso beans", "Moka pot"]

    page.goto("/")
    page.get_by_label("In stock only").check()
    page.get_by_label("Sort by").select_option("price")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("result-count")).to_have_text("4 products")
    assert result_names(page) == ["Sencha", "House espresso beans", "Moka pot", "Burr grinder"]
    assert "Matcha whisk" not in result_names(page)

    page.get_by_label("Search products").fill("no such thing")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_test_id("result-count")).to_have_text("0 products")
    expect(page.get_by_test_id("no-results")).to_be_visible()


def test_product_page_shows_price_stock_and_an_add_to_cart_form(page, catalog, screenshot):
    page.goto("/")
    page.get_by_role("link", name=re.compile("Moka pot")).click()
    page.wait_for_url("**/products/moka-pot/")
    expect(page).to_have_title(f"Moka pot · {settings.SHOP_NAME}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Moka pot")
    expect(page.get_by_test_id("price")).to_have_text("€34.90")
    expect(page.get_by_test_id("availability")).to_have_text("7 available")
    assert page.get_by_label("Quantity").input_value() == "1"
    expect(page.get_by_role("button", name="Add to cart")).to_be_visible()
    expect(page.get_by_text("A three-cup stovetop espresso maker.")).to_be_visible()
    screenshot(page, "product-detail")
    assert_accessible(page, "the product page")

    page.get_by_role("link", name="Coffee").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Coffee")

    page.goto("/products/matcha-whisk/")
    expect(page.get_by_test_id("availability")).to_have_text("Out of stock")
    expect(page.get_by_role("button", name="Add to cart")).to_have_count(0)


def test_bad_filters_show_their_error_next_to_the_field(page, catalog):
    page.goto("/?min_price=50&max_price=10")
    field = page.locator(".field", has=page.get_by_label("Max price"))
    assert field.locator(".error").inner_text() == "Must not be below min_price."
    expect(page.get_by_test_id("result-count")).to_have_text("0 products")


def test_unknown_page_is_our_own_404(page, catalog, screenshot):
    response = page.goto("/products/no-such-product/")
    assert response.status == 404
    expect(page).to_have_title(f"Page not found · {settings.SHOP_NAME}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    screenshot(page, "error-404")
    assert_accessible(page, "the 404 page")
    page.get_by_role("link", name="Back to the shop").click()
    expect(page.get_by_test_id("result-count")).to_have_text("5 products")


@override_settings(ROOT_URLCONF="tests.browser.failing_urls")
def test_server_error_is_our_own_500(page, screenshot):
    response = page.goto("/boom/")
    assert response.status == 500
    assert page.title().startswith("Something went wrong")
    expect(page.get_by_role("heading", level=1)).to_have_text("Something went wrong")
    assert "Traceback" not in page.content()
    # Styled like the rest of the shop.
    expect(page.locator("link[rel=stylesheet][href$='css/shop.css']")).to_have_count(1)
    screenshot(page, "error-500")
    assert_accessible(page, "the 500 page")


@override_settings(ROOT_URLCONF="tests.browser.failing_urls")
def test_forbidden_page_is_our_own_403(page, screenshot):
    response = page.goto("/forbidden/")
    assert response.status == 403
    expect(page).to_have_title(f"Not allowed · {settings.SHOP_NAME}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(page.get_by_role("link", name="Log in").last).to_be_visible()
    screenshot(page, "error-403")
    assert_accessible(page, "the 403 page")


def test_shop_front_and_product_page_have_no_serious_accessibility_violations(page, catalog):
    for path in ("/", "/?search=tea&min_price=100&max_price=1", "/products/sencha/"):
        page.goto(path)
        assert_accessible(page, path)


@pytest.mark.parametrize("path", ["/", "/products/moka-pot/", "/no-such-page/"])
def test_pages_fit_a_phone_screen(phone_page, catalog, screenshot, path):
    phone_page.goto(path)
    overflow = phone_page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 375px wide"
    name = {"/": "home", "/products/moka-pot/": "product", "/no-such-page/": "404"}[path]
    screenshot(phone_page, f"phone-{name}")


def test_keyboard_focus_is_visible(page, catalog):
    page.goto("/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert skip.evaluate("el => el === document.activeElement")
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0, "the skip link stays off screen when focused"
    for _ in range(3):
        page.keyboard.press("Tab")
        outline = page.evaluate(
            """() => {
                const style = getComputedStyle(document.activeElement);
                return [style.outlineStyle, parseFloat(style.outlineWidth)];
            }"""
        )
        assert outline[0] != "none" and outline[1] >= 2, f"no visible focus ring: {outline}"
    page.get_by_label("Search products").focus()
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") != "none"


def test_every_input_has_a_label_and_every_post_form_a_csrf_token(page, catalog):
    for path in ("/", "/products/moka-pot/"):
        page.goto(path)
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
                .filter(el => el.type !== 'hidden' && el.labels.length === 0
                              && !el.getAttribute('aria-label'))
                .map(el => el.name || el.id)"""
        )
        assert unlabelled == [], f"inputs without a label on {path}: {unlabelled}"
        forms = page.locator("form[method=post]")
        for index in range(forms.count()):
            form = forms.nth(index)
            assert form.locator("input[name=csrfmiddlewaretoken]").count() == 1, (
                f"a POST form on {path} has no CSRF token"
            )


def test_a_form_without_its_csrf_token_is_refused_with_our_page(page, catalog, screenshot):
    page.goto("/products/moka-pot/")
    page.evaluate("() => document.querySelector('input[name=csrfmiddlewaretoken]').remove()")
    with page.expect_response("**/cart/add/") as refused:
        page.get_by_role("button", name="Add to cart").click()
    assert refused.value.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Please try again")
    expect(page.locator("link[rel=stylesheet][href$='css/shop.css']")).to_have_count(1)
    screenshot(page, "error-403-csrf")
    assert_accessible(page, "the CSRF failure page")
    page.goto("/cart/")
    expect(page.get_by_test_id("cart-item")).to_have_count(0)
