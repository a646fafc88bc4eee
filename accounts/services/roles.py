"""Create and update the staff groups of accounts.roles (idempotent)."""

from dataclasses import dataclass, field

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from ..roles import CUSTOM_PERMISSIONS, ROLES


@dataclass
class RolesSyncResult:
    created_groups: list[str] = field(default_factory=list)
    created_permissions: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # permission -> why


def _permission(name: str, result: RolesSyncResult) -> Permission | None:
    app_label, _, codename = name.partition(".")
    found = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
    if found is not None:
        return found
    if name not in CUSTOM_PERMISSIONS:
        result.skipped[name] = f"no model permission {name} (is the app installed?)"
        return None
    model, description = CUSTOM_PERMISSIONS[name]
    content_type = ContentType.objects.filter(app_label=app_label, model=model).first()
    if content_type is None:
        result.skipped[name] = f"{app_label}.{model} is not installed yet"
        return None
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type, codename=codename, defaults={"name": description}
    )
    result.created_permissions.append(name)
    return permission


@transaction.atomic
def roles_sync() -> RolesSyncResult:
    """Make every group of ROLES hold exactly its permissions (those that exist)."""
    result = RolesSyncResult()
    cache: dict[str, Permission | None] = {}
    for group_name, role in ROLES.items():
        group, created = Group.objects.get_or_create(name=group_name)
        if created:
            result.created_groups.append(group_name)
        wanted = []
        for name in role["permissions"]:
            if name not in cache:
                cache[name] = _permission(name, result)
            if cache[name] is not None:
                wanted.append(cache[name])
        have = set(group.permissions.values_list("pk", flat=True))
        wanted_ids = {p.pk for p in wanted}
        if have != wanted_ids:
            group.permissions.set(wanted)
    return result
