"""Writes to a shopper's address book; one address at most is the default (a DB constraint)."""

from collections.abc import Mapping

from django.db import transaction

from .models import Address

FIELDS = ("full_name", "line1", "line2", "city", "postal_code", "country")


def _lock_book(user) -> list[Address]:
    """Lock the user's addresses (in id order), so default changes queue up."""
    return list(Address.objects.select_for_update().filter(user=user).order_by("id"))


def _clean(data: Mapping) -> dict:
    values = {name: str(data.get(name) or "").strip() for name in FIELDS}
    values["country"] = values["country"].upper()
    values["postal_code"] = values["postal_code"].upper()
    return values


@transaction.atomic
def address_create(*, user, data: Mapping, make_default: bool = False) -> Address:
    """Add an address; the first one, or one asked to be, becomes the default."""
    book = _lock_book(user)
    make_default = make_default or not book
    if make_default:
        Address.objects.filter(user=user, is_default=True).update(is_default=False)
    return Address.objects.create(user=user, is_default=make_default, **_clean(data))


@transaction.atomic
def address_update(*, address: Address, data: Mapping, make_default: bool = False) -> Address:
    _lock_book(address.user_id)
    for name, value in _clean(data).items():
        setattr(address, name, value)
    address.save(update_fields=list(FIELDS))
    if make_default and not address.is_default:
        return address_set_default(address=address)
    return address


@transaction.atomic
def address_set_default(*, address: Address) -> Address:
    _lock_book(address.user_id)
    Address.objects.filter(user_id=address.user_id, is_default=True).exclude(pk=address.pk).update(
        is_default=False
    )
    Address.objects.filter(pk=address.pk).update(is_default=True)
    address.is_default = True
    return address


@transaction.atomic
def address_delete(*, address: Address) -> None:
    """Delete the address; if it was the default, the newest remaining one takes over."""
    _lock_book(address.user_id)
    was_default = address.is_default
    user_id = address.user_id
    address.delete()
    if was_default:
        newest = Address.objects.filter(user_id=user_id).order_by("-created_at", "-id").first()
        if newest is not None:
            Address.objects.filter(pk=newest.pk).update(is_default=True)


@transaction.atomic
def address_remember(*, user, shipping_address: Mapping) -> Address:
    """Keep a checkout's address in the book (once), the default if the book was empty."""
    values = _clean(shipping_address)
    book = _lock_book(user)
    for address in book:
        if all(str(getattr(address, name)) == values[name] for name in FIELDS):
            return address
    return Address.objects.create(user=user, is_default=not book, **values)
