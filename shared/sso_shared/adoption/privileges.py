"""What a source brings, user by user and group by group, and the options that let each thing in.

An adoption creates the source's new users and groups as the source has them: their
password hashes, staff status, own permissions, groups and logged-in sessions. It never
raises what anybody or any group here already holds, nor replaces or adds to the
credentials of a user who is already here, unless an option names it:

- ``--keep-superusers``: superuser status from the source (a new user made a superuser,
  an existing one raised to it). Without it, superusers of the source come in without it.
- ``--merge-group-permissions``: a source group's permissions added to the group of the
  same name here. Never an access group's (it grants its service only: access_groups).
- ``--join-existing-groups``: source users made members of groups of the same name that
  exist here already, which grant whatever they grant here.
- ``--merge-user-permissions``: a user merged into one here (same username and email, or
  the map) gets the source's staff status, groups, permissions and access to this service.
- ``--take-passwords``: such a user's password becomes the source's, where the source's
  last login is the more recent (as the source says: it can claim any date).
- ``--take-sessions``: their logged-in sessions of the source are carried over (each one
  logs a browser in as the user here), and so are those of users adopted by an earlier run.

``survey`` decides all of it before anything is written; the report lists each item with
``+`` (brought) or ``-`` (left out, and the option that would let it in).
"""

from dataclasses import dataclass, field, fields
from datetime import datetime

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.utils import timezone


@dataclass(frozen=True)
class Options:
    keep_superusers: bool = False
    merge_group_permissions: bool = False
    join_existing_groups: bool = False
    merge_user_permissions: bool = False
    take_passwords: bool = False
    take_sessions: bool = False

    def given(self, *names: str) -> bool:
        return all(getattr(self, name) for name in names)


def option_flag(name: str) -> str:
    return "--" + name.replace("_", "-")


OPTION_FLAGS = [option_flag(option.name) for option in fields(Options)]
OPTION_HELP = {
    "keep_superusers": "superusers of the source are superusers here (new users, and users merged into existing ones)",
    "merge_group_permissions": "add a source group's permissions to the existing group of the same name here",
    "join_existing_groups": "let source users join existing groups of the same name here (and what those grant)",
    "merge_user_permissions": "users merged into existing ones get the source's staff status, groups, permissions "
    "and access to this service",
    "take_passwords": "users merged into existing ones take the source's password where its last login is newer",
    "take_sessions": "carry over the logged-in sessions of users merged into existing ones or adopted before",
}


@dataclass
class Item:
    """One privilege or credential the source brings: brought, or left out for want of ``needs``."""

    what: str
    needs: tuple[str, ...] = ()  # option names; empty: brought without any
    brought: bool = True

    def line(self) -> str:
        if self.brought:
            return f"+ {self.what}"
        if not self.needs:
            return f"- {self.what}"
        return f"- {self.what} ({' '.join(option_flag(name) for name in self.needs)})"


def offered(what: str, options: Options, *needs: str) -> Item:
    return Item(what, needs, options.given(*needs))


@dataclass
class Grants:
    """What one new or merged user gets here, and the items the report lists for them.

    A new user gets its staff flag, password and access to this service in any case; the fields
    say what else it gets, and for a merged user what is raised or replaced. (Which sessions are
    carried is decided with the others in adoption.plan_sessions.)
    """

    items: list[Item] = field(default_factory=list)
    superuser: bool = False
    staff: bool = False  # merged users: raised to staff
    access: bool = False  # merged users: given access to this service
    groups: list[str] = field(default_factory=list)
    permissions: list = field(default_factory=list)  # Permission rows
    password_from_source: bool = False  # merged users: the source's hash replaces the one here

    def add(self, item: Item) -> bool:
        self.items.append(item)
        return item.brought


def when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def believable(moment: datetime | None) -> datetime | None:
    """A last login the source claims, unless it is in the future (a crafted source may claim 2030)."""
    return moment if moment is not None and moment <= timezone.now() else None


def has_password(legacy_user) -> bool:
    return bool(legacy_user.password) and not legacy_user.password.startswith(UNUSABLE_PASSWORD_PREFIX)


def sessions_item(count: int, options: Options, *needs: str) -> Item:
    what = f"{count} logged-in session{'s' if count != 1 else ''} (each logs a browser in as this user)"
    return offered(what, options, *needs)


def for_new_user(legacy_user, groups: dict, matched_permissions: list, access_title: str, sessions: int, options):
    """A user created here: what the source has, but superuser status and existing groups only by option."""
    grants = Grants(permissions=matched_permissions)
    if has_password(legacy_user):
        grants.add(Item("password (the source's hash)"))
    if legacy_user.is_superuser:
        grants.superuser = grants.add(offered("superuser status", options, "keep_superusers"))
    if legacy_user.is_staff:
        grants.add(Item("staff status"))
    grants.add(Item(f"access to {access_title}"))
    for name in legacy_user.groups:
        exists = groups[name].exists
        item = (
            offered(f"group {name} (exists here)", options, "join_existing_groups") if exists else Item(f"group {name}")
        )
        if grants.add(item):
            grants.groups.append(name)
    for permission in matched_permissions:
        grants.add(Item(f"permission {label(permission)}"))
    if sessions:
        grants.add(sessions_item(sessions, options))
    return grants


def for_merged_user(
    planned, groups: dict, matched_permissions: list, access: str, access_title: str, sessions: int, options
):
    """A user here already: nothing raised, no credential replaced or added, but by option.

    ``access`` is the name of this service's access group.
    """
    legacy_user, user = planned.legacy, planned.existing
    grants = Grants()
    if has_password(legacy_user) and legacy_user.password != user.password and source_logged_in_last(planned):
        claimed = legacy_user.last_login
        future = " (in the future)" if believable(claimed) is None else ""
        what = f"password: the source's (last login there {when(claimed)}{future}, here {when(user.last_login)})"
        grants.password_from_source = grants.add(offered(what, options, "take_passwords"))
    if legacy_user.is_superuser and not user.is_superuser:
        grants.superuser = grants.add(offered("superuser status", options, "keep_superusers"))
    if legacy_user.is_staff and not user.is_staff:
        grants.staff = grants.add(offered("staff status", options, "merge_user_permissions"))
    held_groups = set(user.groups.values_list("name", flat=True))
    if access not in held_groups:
        grants.access = grants.add(offered(f"access to {access_title}", options, "merge_user_permissions"))
    for name in legacy_user.groups:
        if name in held_groups:
            continue
        if groups[name].exists:
            item = offered(f"group {name} (exists here)", options, "merge_user_permissions", "join_existing_groups")
        else:
            item = offered(f"group {name}", options, "merge_user_permissions")
        if grants.add(item):
            grants.groups.append(name)
    held_permissions = set(user.user_permissions.values_list("pk", flat=True))
    for permission in matched_permissions:
        if permission.pk not in held_permissions and grants.add(
            offered(f"permission {label(permission)}", options, "merge_user_permissions")
        ):
            grants.permissions.append(permission)
    if sessions:
        grants.add(sessions_item(sessions, options, "take_sessions"))
    return grants


def source_logged_in_last(planned) -> bool:
    """The source's last login (as it claims it) is later than the one here: its password is the one used last."""
    theirs, ours = planned.legacy.last_login, planned.existing.last_login
    return theirs is not None and (ours is None or theirs > ours)


def label(permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def group_items(planned_group, options: Options) -> list[Item]:
    """Each permission a source group brings: all of a new group's; to an existing one only by option."""
    if not planned_group.exists:
        return [Item(label(permission)) for permission in planned_group.new_permissions]
    if planned_group.access_group:
        never = "(never, whatever the options: an access group grants only its service)"
        return [Item(f"{label(permission)} {never}", (), False) for permission in planned_group.new_permissions]
    return [
        offered(label(permission), options, "merge_group_permissions") for permission in planned_group.new_permissions
    ]
