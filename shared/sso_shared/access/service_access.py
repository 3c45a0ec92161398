"""Per-service access: one login, but a user may be allowed on A and not on B.

Each service has a permission ``sso_shared.access_service_<name>`` (on the
table-less ``ServiceAccess`` model) and a group "Access to <title>" granting it,
both made when a service first migrates with the service declared (``provide_access_groups``).
Superusers may use every service. Who else may, follows the service's access rule
(services.toml ``access``, docs/adding-a-service.md "Who may use it"):

- ``everyone`` (the default): every user there is when its group is made joins it, and so does
  every user created later (``SSO_NEW_USERS_ACCESS``);
- ``group:NAME``: the group NAME (made if missing) is given the service's permission when its
  access group is made, so its members, now and later, may use it; nobody joins the access group.

Take a service away by removing the user from its groups, in any admin.

A logged-in user without access gets a 403 page naming the service, never a
redirect to the login page: that page sends logged-in users back, a loop.
"""

import functools

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.db.models.signals import post_delete, post_migrate, post_save
from django.dispatch import receiver
from django.shortcuts import render

from sso_shared.database.routers import SHARED_DB
from sso_shared.models import ServiceAccess, access_codename
from sso_shared.operations.audit import ACCESS_DENIED, record
from sso_shared.sessions.store import UUID_TEXT


def access_permission(service: str) -> str:
    return f"{ServiceAccess._meta.app_label}.{access_codename(service)}"


def access_group_name(service: str) -> str:
    return f"Access to {settings.SSO_SERVICES[service]['title']}"


def may_use(user, service: str) -> bool:
    """Exactly ``user.has_perm(access_permission(service))``, asking every backend the same way.

    This runs on every page. ``has_perm`` through ModelBackend loads all the user's permissions and then
    all their groups' (two queries); the gate asks ModelBackend-like backends one ``EXISTS`` instead, so
    with the default backends it adds one query per page. Other backends are asked through their own
    ``has_perm``, in order, and a ``PermissionDenied`` from one ends the search with "no", as in
    ``django.contrib.auth.models._user_has_perm``.
    """
    if user.is_active and user.is_superuser:
        return True
    permission = access_permission(service)
    for backend in auth.get_backends():
        if not hasattr(backend, "has_perm"):
            continue
        try:
            if backend_grants(backend, user, permission):
                return True
        except PermissionDenied:
            return False
    return False


def backend_grants(backend, user, permission: str) -> bool:
    if reads_permissions_like_model_backend(backend):
        return model_backend_grants(user, permission)
    return backend.has_perm(user, permission, None)  # positional obj, as Django passes it


# Overriding any of these changes what ModelBackend.has_perm answers, so such a subclass is asked itself.
MODEL_BACKEND_PERMISSION_METHODS = (
    "has_perm",
    "get_all_permissions",
    "get_user_permissions",
    "get_group_permissions",
    "_get_permissions",
    "_get_user_permissions",
    "_get_group_permissions",
)


def reads_permissions_like_model_backend(backend) -> bool:
    """ModelBackend, or a subclass that changes only who may log in (AllowAllUsersModelBackend, RemoteUserBackend)."""
    return isinstance(backend, ModelBackend) and all(
        getattr(type(backend), name) is getattr(ModelBackend, name) for name in MODEL_BACKEND_PERMISSION_METHODS
    )


def model_backend_grants(user, permission: str) -> bool:
    """ModelBackend.has_perm's answer (superusers aside, answered before), in one query instead of two.

    No query at all when the session row brought the answer (``service_access_sql``).
    """
    if not user.is_active or user.is_anonymous:
        return False
    loaded = getattr(user, "_perm_cache", None)  # ModelBackend's cache, when a view has filled it
    if loaded is not None:
        return permission in loaded
    if getattr(user, SESSION_ACCESS_ATTRIBUTE, {}).get(permission):
        return True  # a "no" is asked again below: the session query's answer only ever saves a query
    app_label, codename = permission.split(".", 1)
    return (
        Permission.objects.using(SHARED_DB)
        .filter(content_type__app_label=app_label, codename=codename)
        .filter(Q(user=user) | Q(group__user=user))
        .exists()
    )


SESSION_ACCESS_ATTRIBUTE = "_sso_access_read_with_session"


def service_access_sql(service: str, connection, user_id_column: str) -> tuple[str, list] | None:
    """ModelBackend's "has this user the service's permission?" as one boolean column of the session query.

    Computed afresh from the permission tables on every request, inside the one query that loads the
    session row (``sso_shared.sessions.store.SessionStore``): no extra round trip, and nothing cached, so
    taking a user out of a group, or a permission away, counts on the very next request. Two EXISTS,
    each on its through table's user index whatever a group's size, naming the permission by its id.
    Written as SQL once per process, not built with the ORM on every request (it cost a page about
    as much CPU as the rest of the access gate and the second database together). None when the
    permission is not there. ``user_id_column`` is the session row's user id, as text.
    """
    permission_id = access_permission_id(service)
    if permission_id is None:
        return None
    key = (connection.alias, user_id_column)
    if key not in _access_sql:
        quote = connection.ops.quote_name
        user_model = auth.get_user_model()
        own = user_model._meta.get_field("user_permissions")
        groups = user_model._meta.get_field("groups")
        group_permissions = Group._meta.get_field("permissions")
        user_id = f"{user_id_column}::uuid"
        # Names from the models' metadata, quoted; every value is a parameter.
        _access_sql[key] = (
            # Text to UUID only for text that is one, so an odd user_id never breaks loading the session.
            f"CASE WHEN {user_id_column} ~ %s THEN ("  # noqa: S608
            f"EXISTS (SELECT 1 FROM {quote(own.m2m_db_table())} own"
            f" WHERE own.{quote(own.m2m_reverse_name())} = %s AND own.{quote(own.m2m_column_name())} = {user_id})"
            f" OR EXISTS (SELECT 1 FROM {quote(groups.m2m_db_table())} member"
            f" JOIN {quote(group_permissions.m2m_db_table())} grant_"
            f" ON grant_.{quote(group_permissions.m2m_column_name())} = member.{quote(groups.m2m_reverse_name())}"
            f" WHERE grant_.{quote(group_permissions.m2m_reverse_name())} = %s"
            f" AND member.{quote(groups.m2m_column_name())} = {user_id})"
            ") ELSE false END"
        )
    return _access_sql[key], [UUID_TEXT, permission_id, permission_id]


_access_sql: dict[tuple[str, str], str] = {}


# The access permissions' ids, looked up once per process. Forgotten when a permission is deleted or
# the tables are flushed (post_migrate); a stale id can only make the gate answer "no", and a "no" is
# always asked again the long way (model_backend_grants).
_access_permission_ids: dict[str, int] = {}


def access_permission_id(service: str) -> int | None:
    if service not in _access_permission_ids:
        app_label, codename = access_permission(service).split(".", 1)
        found = (
            Permission.objects.using(SHARED_DB)
            .filter(content_type__app_label=app_label, codename=codename)
            .values_list("pk", flat=True)
            .first()
        )
        if found is None:
            return None
        _access_permission_ids[service] = found
    return _access_permission_ids[service]


@receiver(post_delete, sender=Permission, dispatch_uid="sso_shared.forget_access_permission_ids")
@receiver(post_migrate, dispatch_uid="sso_shared.forget_access_permission_ids_after_migrate")
def forget_access_permission_ids(**kwargs):
    _access_permission_ids.clear()


def remember_access_read_with_session(request) -> None:
    """Hand the decision the session query brought to model_backend_grants, for this request's user only."""
    read = getattr(request.session, "service_access", None)
    if read is None:
        return
    user_id, allowed = read
    if user_id is not None and user_id == str(request.user.pk):
        setattr(request.user, SESSION_ACCESS_ATTRIBUTE, {access_permission(settings.SSO_SERVICE_NAME): allowed})


def access_group(service: str) -> Group:
    """The service's access group, made (with its permission) if missing, e.g. after a test flush."""
    group, _, _ = access_group_made(service, SHARED_DB)
    return group


def access_group_made(service: str, using: str) -> tuple[Group, Permission, bool]:
    """The service's access group and permission, made where missing; made: the group is new."""
    # Not get_for_model: its cache may hold a row a flush has just deleted (a test's).
    content_type, _ = ContentType.objects.using(using).get_or_create(
        app_label=ServiceAccess._meta.app_label, model=ServiceAccess._meta.model_name
    )
    permission, _ = Permission.objects.using(using).get_or_create(
        content_type=content_type,
        codename=access_codename(service),
        defaults={"name": f"Can use {settings.SSO_SERVICES[service]['title']}"},
    )
    group, made = Group.objects.using(using).get_or_create(name=access_group_name(service))
    group.permissions.add(permission)
    return group, permission, made


def provide_access_groups(using: str = SHARED_DB, **kwargs) -> None:
    """Each declared service's access permission and group, made where missing (post_migrate: a service
    declared later gets them when the site next migrates). A group made now is granted by the service's
    access rule; one that exists is left as the administrators made it."""
    for service, details in settings.SSO_SERVICES.items():
        group, permission, made = access_group_made(service, using)
        if not made:
            continue
        rule = details.get("access", "everyone")
        if rule == "everyone":
            users = auth.get_user_model().objects.db_manager(using).filter(is_active=True)
            through = auth.get_user_model().groups.through
            through.objects.using(using).bulk_create(
                [through(user_id=pk, group_id=group.pk) for pk in users.values_list("pk", flat=True)],
                ignore_conflicts=True,
            )
        else:
            named, _ = Group.objects.using(using).get_or_create(name=rule.removeprefix("group:"))
            named.permissions.add(permission)


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
        if view_path(view_func) in settings.SSO_ACCESS_EXEMPT_VIEWS:
            return None
        service = settings.SSO_SERVICE_NAME
        # Read with the session, if it is not read yet: no query of its own (service_access_sql).
        request.session.service_access_query = functools.partial(service_access_sql, service)
        if not request.user.is_authenticated:
            return None
        remember_access_read_with_session(request)
        if may_use(request.user, service):
            return None
        return no_access(request, service)


def view_path(view_func) -> str:
    """Where a view is defined: "sso_shared.accounts.views.health", "django.contrib.auth.views.LoginView".

    Decorators that use functools.wraps keep the wrapped view's path; as_view() keeps its class in view_class.
    """
    view = getattr(view_func, "view_class", view_func)
    if not hasattr(view, "__qualname__"):  # an instance with __call__ serving as a view
        view = type(view)
    return f"{view.__module__}.{view.__qualname__}"


def no_access(request, service: str):
    record(ACCESS_DENIED, request, user=request.user, service=service)
    usable = [
        {"name": name, **details}
        for name, details in settings.SSO_SERVICES.items()
        if name != service and may_use(request.user, name)
    ]
    context = {"access_group": access_group_name(service), "usable_services": usable}
    return render(request, "sso_shared/no_access.html", context, status=403)
