"""Per-service access: one login, but a user may be allowed on A and not on B.

Each service has a permission ``sso_shared.access_service_<name>`` (on the
table-less ``ServiceAccess`` model) and a group "Access to <title>" granting it.
Superusers may use every service. New users join the groups of the services in
``SSO_NEW_USERS_ACCESS`` (all of them by default); take a service away by
removing the user from its group, in either admin.

A logged-in user without access gets a 403 page naming the service, never a
redirect to the login page: that page sends logged-in users back, a loop.
"""

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.shortcuts import render

from .models import ServiceAccess, access_codename
from .routers import SHARED_DB


def access_permission(service: str) -> str:
    return f"{ServiceAccess._meta.app_label}.{access_codename(service)}"


def access_group_name(service: str) -> str:
    return f"Access to {settings.SSO_SERVICES[service]['title']}"


def may_use(user, service: str) -> bool:
    """The same answer as ``user.has_perm``, in one query instead of loading every permission twice.

    This runs on every page, so it is the only query the access gate adds to a request.
    """
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    loaded = getattr(user, "_perm_cache", None)  # ModelBackend's cache, when a view has filled it
    if loaded is not None:
        return access_permission(service) in loaded
    return (
        Permission.objects.using(SHARED_DB)
        .filter(content_type__app_label=ServiceAccess._meta.app_label, codename=access_codename(service))
        .filter(Q(user=user) | Q(group__user=user))
        .exists()
    )


def access_group(service: str) -> Group:
    """The service's access group, made (with its permission) if missing, e.g. after a test flush."""
    content_type = ContentType.objects.db_manager(SHARED_DB).get_for_model(ServiceAccess)
    permission, _ = Permission.objects.using(SHARED_DB).get_or_create(
        content_type=content_type,
        codename=access_codename(service),
        defaults={"name": f"Can use {settings.SSO_SERVICES[service]['title']}"},
    )
    group, _ = Group.objects.using(SHARED_DB).get_or_create(name=access_group_name(service))
    group.permissions.add(permission)
    return group


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="sso_shared.grant_default_access")
def grant_default_access(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        instance.groups.add(*(access_group(service) for service in settings.SSO_NEW_USERS_ACCESS))


class ServiceAccessMiddleware:
    """Answer 403 to logged-in users without access to this service; after AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        # Checked before touching request.user: health checks never load a session.
        if request.resolver_match.view_name in settings.SSO_ACCESS_EXEMPT_VIEWS:
            return None
        service = settings.SSO_SERVICE_NAME
        if not request.user.is_authenticated or may_use(request.user, service):
            return None
        return no_access(request, service)


def no_access(request, service: str):
    usable = [
        {"name": name, **details}
        for name, details in settings.SSO_SERVICES.items()
        if name != service and may_use(request.user, name)
    ]
    context = {"access_group": access_group_name(service), "usable_services": usable}
    return render(request, "sso_shared/no_access.html", context, status=403)
