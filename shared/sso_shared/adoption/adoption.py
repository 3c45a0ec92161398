"""One adoption: everything read and decided first (``survey``), then written in one transaction (``apply``).

``survey`` only reads; it is the whole of ``--dry-run``. ``apply`` writes users,
groups, permissions, the old-pk mapping and the carried sessions to the shared
database in one transaction, under the migration lock.
"""

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from ..access import access_group
from ..routers import SHARED_DB
from . import carried_sessions, legacy, plan
from .models import AdoptedSession, AdoptedUser


@dataclass
class GroupPlan:
    name: str
    exists: bool
    to_add: list  # Permission rows the group gets
    unmatched: list[str]


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
    permissions: dict = field(default_factory=dict)  # (app_label, codename) → Permission here

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


def survey(inputs, *, service: str, source: str, cookie: str) -> Survey:
    """Read the source and decide everything; raises CommandError (clashes are listed, not raised)."""
    connection = legacy.open_source(inputs)
    try:
        data = legacy.read(connection)
    finally:
        connection.close()
    users = plan.plan_users(data.users, source, inputs.map_text)
    result = Survey(service=service, source=source, label=inputs.label, cookie=cookie, data=data, users=users)
    permissions = result.permissions = permission_index()
    plan_groups(result, permissions)
    note_user_permissions(result, permissions)
    plan_sessions(result, inputs.secret_keys)
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
        to_add = [permission for permission in matched if permission.pk not in held]
        result.groups.append(GroupPlan(name, group is not None, to_add, unmatched))


def note_user_permissions(result: Survey, permissions: dict) -> None:
    for user in result.users.of(plan.NEW) + result.users.of(plan.MERGE):
        for app_label, codename in user.legacy.permissions:
            if (app_label, codename) not in permissions:
                result.unmatched.setdefault(f"{app_label}.{codename}", []).append(f"user {user.legacy.username}")


def plan_sessions(result: Survey, keys: list[str]) -> None:
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
    result.sessions_to_carry = [(session, digest) for session, digest in candidates if digest not in carried]


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
    legacy_user = planned.legacy
    user = get_user_model()(
        username=planned.target_username,
        email=legacy_user.email,
        first_name=legacy_user.first_name,
        last_name=legacy_user.last_name,
        password=legacy_user.password,  # the hash as it is: Django upgrades it at the next login
        is_active=legacy_user.is_active,
        is_staff=legacy_user.is_staff,
        is_superuser=legacy_user.is_superuser,
        date_joined=legacy_user.date_joined,
        last_login=legacy_user.last_login,
    )
    user.save(using=SHARED_DB)
    # Access to the service it came from only (a new user would get SSO_NEW_USERS_ACCESS).
    user.groups.set([access, *(groups[name] for name in legacy_user.groups)])
    user.user_permissions.set(matched_permissions(legacy_user, result.permissions))
    record(result, legacy_user, user)
    return user


def merge_user(planned, result: Survey, groups: dict, access: Group):
    legacy_user, user = planned.legacy, planned.existing
    if planned.password_from_source:
        user.password = legacy_user.password
    if legacy_user.last_login and (user.last_login is None or legacy_user.last_login > user.last_login):
        user.last_login = legacy_user.last_login
    user.date_joined = min(user.date_joined, legacy_user.date_joined)
    user.first_name = user.first_name or legacy_user.first_name
    user.last_name = user.last_name or legacy_user.last_name
    # Staff status lets into the admin only with permissions; superuser status would grant every
    # service, so it is never taken from a source (the report says so).
    user.is_staff = user.is_staff or legacy_user.is_staff
    user.save(using=SHARED_DB)
    user.groups.add(access, *(groups[name] for name in legacy_user.groups))
    user.user_permissions.add(*matched_permissions(legacy_user, result.permissions))
    record(result, legacy_user, user)
    return user


def record(result: Survey, legacy_user, user) -> None:
    AdoptedUser.objects.using(SHARED_DB).create(source=result.source, old_pk=legacy_user.pk, user=user)
