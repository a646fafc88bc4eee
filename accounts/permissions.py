"""Staff permission checks for the API, shared by every app.

`is_staff` lets a person into the admin and nothing more: every staff endpoint names the
Django permissions it needs. Superusers hold every permission.

    permission_classes = [require_perms("payments.refund_payment")]
    permission_classes = [require_perms_by_method({"POST": ["catalog.add_product"]},
                                                  safe_allowed=True)]
"""

from collections.abc import Iterable, Mapping

from rest_framework import exceptions, permissions


class PermissionMissing(exceptions.PermissionDenied):
    default_detail = "You do not have the permission this action needs."
    default_code = "permission_denied"


def _check(request, perms: Iterable[str]) -> bool:
    user = request.user
    if not (user and user.is_authenticated):
        raise exceptions.NotAuthenticated()
    perms = list(perms)
    if user.is_staff and user.is_active and user.has_perms(perms):
        return True
    raise PermissionMissing()


def require_perms(*perms: str) -> type[permissions.BasePermission]:
    """Return a DRF permission class that admits active staff holding every one of `perms`."""

    class HasPerms(permissions.BasePermission):
        required = perms

        def has_permission(self, request, view):
            return _check(request, perms)

    HasPerms.__name__ = "Requires_" + "_".join(p.split(".")[-1] for p in perms)
    return HasPerms


def require_perms_by_method(
    by_method: Mapping[str, Iterable[str]], *, safe_allowed: bool = False
) -> type[permissions.BasePermission]:
    """Return a DRF permission class checking the permissions listed for the request method.

    With `safe_allowed`, GET/HEAD/OPTIONS are open to whoever the view otherwise admits;
    a method not listed is refused to everyone but superusers.
    """
    table = {method.upper(): tuple(perms) for method, perms in by_method.items()}

    class HasPermsForMethod(permissions.BasePermission):
        required = table
        anonymous_read = safe_allowed  # the OpenAPI schema: reads need no login

        def has_permission(self, request, view):
            if safe_allowed and request.method in permissions.SAFE_METHODS:
                return True
            if request.method not in table:
                user = request.user
                if user and user.is_authenticated and user.is_superuser:
                    return True
                raise PermissionMissing()
            return _check(request, table[request.method])

    return HasPermsForMethod
