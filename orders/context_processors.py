from .selectors import GUEST_CART_SESSION_KEY, cart_unit_count


def cart_count(request):
    """Expose the number of units in the visitor's cart to the header (one query)."""
    user = getattr(request, "user", None)
    session = getattr(request, "session", None)
    if user is not None and user.is_authenticated:
        return {"cart_count": lambda: cart_unit_count(user=user)}
    if session is not None and session.get(GUEST_CART_SESSION_KEY):
        return {"cart_count": lambda: cart_unit_count(cart_id=session.get(GUEST_CART_SESSION_KEY))}
    return {"cart_count": 0}
