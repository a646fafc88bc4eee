import pytest

from tests.factories import UserFactory
from tests.orders.factories import stocked_product


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Hash test passwords cheaply; Argon2 is what production uses and is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def product(db):
    return stocked_product(on_hand=10, price="12.50")


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def no_free_shipping(settings):
    settings.SHIPPING_FLAT_RATE = "4.90"
    settings.SHIPPING_FREE_OVER = "50.00"
