"""One adoption: everything read and decided first (``survey``), then written in one transaction (``apply``).

``survey`` only reads; it is the whole of ``--dry-run``. What it lets in of each
user's and group's privileges and credentials depends on the options
(``privileges``): by default nothing held here is raised and no credential here is
replaced. ``apply`` writes users, groups, permissions, the old-pk mapping and the
carried sessions to the shared database in one transaction, under the migration lock.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from sso_shared.access.groups import is_access_group
from sso_shared.access.service_access import access_group, access_group_name
from sso_shared.adoption import carried_sessions, legacy, plan, privileges
from sso_shared.adoption.models import AdoptedSession, AdoptedUser
from sso_shared.database.routers import SHARED_DB


@dataclass
class GroupPlan:
    name: str
    exists: bool
    new_permissions: list  # Permission rows the source's group has and the group here lacks
    unmatched: list[str]
    access_group: bool = False
    items: list = field(default_factory=list)  # privileges.Item per permission

    @property
    def to_add(self) -> list:
        """The permissions the group gets in this run."""
        return [permission for permission, item in zip(self.new_permissions, self.items, strict=True) if item.brought]


@dataclass
class Survey:
    service: str
    source: str  # the name the old-pk mapping keeps this source under
    label: str
    cookie: str
    data: legacy.LegacyData
    users: plan.Plan
    groups: list[GroupPlan] = field(default_factory=list)
    # (app_label.codename) → where the source used it, for permissions with no counterpart here
    unmatched: dict[str, list[str]] = field(default_factory=dict)
    sessions: carried_sessions.SessionSurvey | None = None
    sessions_to_carry: list = field(default_factory=list)  # (DecodedSession, digest)
    sessions_carried_before: int = 0
    sessions_of_users_not_adopted: int = 0
    sessions_left_out: int = 0  # of users here already (merged, adopted before), without --take-sessions
    permissions: dict = field(default_factory=dict)  # (app_label, codename) → Permission here
    options: privileges.Options = field(default_factory=privileges.Options)
    grants: dict = field(default_factory=dict)  # legacy pk → privileges.Grants, for new and merged users

    def changes_anything(self) -> bool:
        return bool(
            self.users.of(plan.NEW)
            or self.users.of(plan.MERGE)
            or any(not group.exists or group.to_add for group in self.groups)
            or self.sessions_to_carry
        )


def permission_index() -> dict[tuple[str, str], Permission]:
    return {
        (permission.content_type.app_label, permission.codename): permission
        for permission in Permission.objects.using(SHARED_DB).select_related("content_type")
    }


def survey(inputs, *, service: str, source: str, cookie: str, options=None) -> Survey:
    """Read the source and decide everything; raises CommandError (clashes are listed, not raised)."""
    connection = legacy.open_source(inputs)
    try:
        data = legacy.read(connection)
    finally:
        connection.close()
    users = plan.plan_users(data.users, source, inputs.map_text)
    result = Survey(service=service, source=source, label=inputs.label, cookie=cookie, data=data, users=users)
    result.options = options or privileges.Options()
    permissions = result.permissions = permission_index()
    plan_groups(result, permissions)
    note_user_permissions(result, permissions)
    sessions_per_user = plan_sessions(result, inputs.secret_keys)
    decide_users(result, sessions_per_user)
    return result


def plan_groups(result: Survey, permissions: dict) -> None:
    existing = {group.name: group for group in Group.objects.using(SHARED_DB).filter(name__in=result.data.groups)}
    for name, wanted in result.data.groups.items():
        group = existing.get(name)
        held = set(group.permissions.values_list("pk", flat=True)) if group else set()
        matched = [permissions[key] for key in wanted if key in permissions]
        unmatched = [
            f"{app_label}.{codename}" for app_label, codename in wanted if (app_label, codename) not in permissions
        ]
        for permission in unmatched:
            result.unmatched.setdefault(permission, []).append(f"group {name}")
        new_permissions = [permission for permission in matched if permission.pk not in held]
        planned = GroupPlan(
            name, group is not None, new_permissions, unmatched, group is not None and is_access_group(group)
        )
        planned.items = privileges.group_items(planned, result.options)
        result.groups.append(planned)


def note_user_permissions(result: Survey, permissions: dict) -> None:
    for user in result.users.of(plan.NEW) + result.users.of(plan.MERGE):
        for app_label, codename in user.legacy.permissions:
            if (app_label, codename) not in permissions:
                result.unmatched.setdefault(f"{app_label}.{codename}", []).append(f"user {user.legacy.username}")


def plan_sessions(result: Survey, keys: list[str]) -> dict[str, int]:
    """Which logged-in sessions are carried over; returns legacy pk → its sessions not carried before.

    A new user's are. Those of a user who is here already (merged into one, or adopted by an
    earlier run) would each log a browser in as that user here: only with --take-sessions.
    """
    legacy_users = {user.pk: user for user in result.data.users}
    result.sessions = carried_sessions.survey(result.data.sessions, legacy_users, keys)
    adopted = result.users.adopted()
    candidates = []
    for session in result.sessions.logged_in:
        if session.old_user_pk not in adopted:
            result.sessions_of_users_not_adopted += 1
            continue
        candidates.append((session, carried_sessions.cookie_digest(result.cookie, session.legacy_key)))
    carried = set(
        AdoptedSession.objects.using(SHARED_DB)
        .filter(digest__in=[digest for _, digest in candidates])
        .values_list("digest", flat=True)
    )
    result.sessions_carried_before = sum(1 for _, digest in candidates if digest in carried)
    per_user: dict[str, int] = {}
    for session, digest in candidates:
        if digest in carried:
            continue
        per_user[session.old_user_pk] = per_user.get(session.old_user_pk, 0) + 1
        if adopted[session.old_user_pk].action == plan.NEW or result.options.take_sessions:
            result.sessions_to_carry.append((session, digest))
        else:
            result.sessions_left_out += 1
    return per_user


def decide_users(result: Survey, sessions_per_user: dict[str, int]) -> None:
    groups = {group.name: group for group in result.groups}
    title = settings.SSO_SERVICES[result.service]["title"]
    access = access_group_name(result.service)  # by name: a dry run writes nothing
    for planned in result.users.users:
        matched = matched_permissions(planned.legacy, result.permissions)
        sessions = sessions_per_user.get(planned.legacy.pk, 0)
        if planned.action == plan.NEW:
            result.grants[planned.legacy.pk] = privileges.for_new_user(
                planned.legacy, groups, matched, title, sessions, result.options
            )
        elif planned.action == plan.MERGE:
            result.grants[planned.legacy.pk] = privileges.for_merged_user(
                planned, groups, matched, access, title, sessions, result.options
            )
        elif planned.action == plan.ALREADY and sessions:
            result.grants[planned.legacy.pk] = privileges.Grants(
                items=[privileges.sessions_item(sessions, result.options, "take_sessions")]
            )


def apply(result: Survey) -> None:
    with transaction.atomic(using=SHARED_DB):
        groups = write_groups(result)
        access = access_group(result.service)
        users = {}
        for planned in result.users.users:
            if planned.action == plan.NEW:
                users[planned.legacy.pk] = create_user(planned, result, groups, access)
            elif planned.action == plan.MERGE:
                users[planned.legacy.pk] = merge_user(planned, result, groups, access)
            elif planned.action == plan.ALREADY:
                users[planned.legacy.pk] = planned.existing
        for session, digest in result.sessions_to_carry:
            user = users[session.old_user_pk]
            carried_sessions.store(digest, carried_sessions.rewritten(session.data, user), user, session.expire_date)
            AdoptedSession.objects.using(SHARED_DB).create(digest=digest, source=result.source)


def write_groups(result: Survey) -> dict[str, Group]:
    groups = {}
    for planned in result.groups:
        group, _ = Group.objects.using(SHARED_DB).get_or_create(name=planned.name)
        if planned.to_add:
            group.permissions.add(*planned.to_add)
        groups[planned.name] = group
    return groups


def matched_permissions(legacy_user, index: dict) -> list[Permission]:
    return [index[key] for key in legacy_user.permissions if key in index]


def create_user(planned, result: Survey, groups: dict, access: Group):
    legacy_user, grants = planned.legacy, result.grants[planned.legacy.pk]
    user = get_user_model()(
        username=planned.target_username,
        email=legacy_user.email,
        first_name=legacy_user.first_name,
        last_name=legacy_user.last_name,
        password=legacy_user.password,  # the hash as it is: Django upgrades it at the next login
        is_active=legacy_user.is_active,
        is_staff=legacy_user.is_staff,
        is_superuser=grants.superuser,
        date_joined=legacy_user.date_joined,
        last_login=privileges.believable(legacy_user.last_login),
    )
    user.save(using=SHARED_DB)
    # Access to the service it came from only (a new user would get SSO_NEW_USERS_ACCESS).
    user.groups.set([access, *(groups[name] for name in grants.groups)])
    user.user_permissions.set(grants.permissions)
    record(result, legacy_user, user)
    return user


def merge_user(planned, result: Survey, groups: dict, access: Group):
    legacy_user, user, grants = planned.legacy, planned.existing, result.grants[planned.legacy.pk]
    if grants.password_from_source:
        user.password = legacy_user.password
    theirs = privileges.believable(legacy_user.last_login)
    if theirs and (user.last_login is None or theirs > user.last_login):
        user.last_login = theirs
    user.date_joined = min(user.date_joined, legacy_user.date_joined)
    user.first_name = user.first_name or legacy_user.first_name
    user.last_name = user.last_name or legacy_user.last_name
    user.is_superuser = user.is_superuser or grants.superuser
    user.is_staff = user.is_staff or grants.staff
    user.save(using=SHARED_DB)
    user.groups.add(*([access] if grants.access else []), *(groups[name] for name in grants.groups))
    user.user_permissions.add(*grants.permissions)
    record(result, legacy_user, user)
    return user


def record(result: Survey, legacy_user, user) -> None:
    AdoptedUser.objects.using(SHARED_DB).create(source=result.source, old_pk=legacy_user.pk, user=user)
