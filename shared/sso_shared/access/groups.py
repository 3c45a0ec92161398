"""The access groups grant their own service and nothing else.

Every new user joins "Access to System A · Intake" and "Access to System B · Review"
(sso_shared.access.service_access), so whatever those groups grant, every user holds: one more
permission in them (``access_service_b``, ``auth.change_user``) is granted to
everyone at once, from either service's admin. So an access group may hold only
its own access permission. Adding anything else, from code, a fixture or an admin
form, raises ``AccessGroupPermissionError``; so does renaming a group that holds
other permissions to an access group's name. Rows written past the ORM (raw SQL,
``bulk_create`` on the through table) are reported by the system check
``sso_shared.E005`` and by ``sso_doctor``.
"""

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db.models.signals import m2m_changed, pre_save
from django.dispatch import receiver

from sso_shared.access.service_access import access_group_name
from sso_shared.database.routers import SHARED_DB
from sso_shared.models import ServiceAccess, access_codename


class AccessGroupPermissionError(ValidationError):
    """An access group would grant more than its own service."""


def access_group_names() -> dict[str, str]:
    """Group name -> the service it grants."""
    return {access_group_name(service): service for service in settings.SSO_SERVICES}


def service_granted_by(group_name: str) -> str | None:
    return access_group_names().get(group_name)


def is_access_group(group: Group) -> bool:
    return service_granted_by(group.name) is not None


def permissions_beyond_access(group_name: str, permissions) -> list[str]:
    """'app_label.codename' of each of ``permissions`` (a queryset) the named group may not hold, sorted."""
    service = service_granted_by(group_name)
    if service is None:
        return []
    others = permissions.exclude(
        content_type__app_label=ServiceAccess._meta.app_label, codename=access_codename(service)
    ).values_list("content_type__app_label", "codename")
    return sorted(f"{app_label}.{codename}" for app_label, codename in others)


def own_permission(group_name: str) -> str:
    return f"{ServiceAccess._meta.app_label}.{access_codename(service_granted_by(group_name))}"


def refusal(group_name: str, extra: list[str]) -> str:
    return (
        f"The group “{group_name}” may grant only {own_permission(group_name)}, not {', '.join(extra)}: "
        "every new user joins it, so it would grant them to everyone. Grant them through another group."
    )


def violation(group_name: str, extra: list[str]) -> str:
    return (
        f"The group “{group_name}” grants {', '.join(extra)} besides {own_permission(group_name)}: "
        "every new user joins it, so every member holds them."
    )


def refuse_beyond_access(group_name: str, permissions) -> None:
    extra = permissions_beyond_access(group_name, permissions)
    if extra:
        raise AccessGroupPermissionError(refusal(group_name, extra))


@receiver(m2m_changed, sender=Group.permissions.through, dispatch_uid="sso_shared.access_groups_grant_only_access")
def access_groups_grant_only_access(sender, instance, action, reverse, pk_set, using, **kwargs):
    if action != "pre_add" or not pk_set:
        return
    if not reverse:  # group.permissions.add(...)
        refuse_beyond_access(instance.name, Permission.objects.using(using).filter(pk__in=pk_set))
        return
    # permission.group_set.add(...)
    for group in Group.objects.using(using).filter(pk__in=pk_set, name__in=access_group_names()):
        refuse_beyond_access(group.name, Permission.objects.using(using).filter(pk=instance.pk))


@receiver(pre_save, sender=Group, dispatch_uid="sso_shared.no_rename_into_an_access_group")
def no_rename_into_an_access_group(sender, instance, raw=False, using=None, **kwargs):
    """A group with other permissions renamed "Access to System B · Review" would be joined by every new user."""
    if instance.pk is None or not is_access_group(instance):
        return
    refuse_beyond_access(instance.name, Permission.objects.using(using).filter(group__pk=instance.pk))


def access_groups_granting_more() -> dict[str, list[str]]:
    """Each existing access group holding other permissions, with those permissions."""
    found = {}
    for group in Group.objects.using(SHARED_DB).filter(name__in=access_group_names()).order_by("name"):
        extra = permissions_beyond_access(group.name, group.permissions.all())
        if extra:
            found[group.name] = extra
    return found
