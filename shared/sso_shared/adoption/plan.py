"""Who each legacy user becomes: a new user, the same person as an existing one, skipped, or a clash.

Rules (docs/adopting.md):
- already adopted from this source (sso_adopted_user): left alone;
- ``--map`` says ``skip``: not adopted; ``--map`` names a target username: that user
  (merged into it if it exists, created under that name if not);
- the same username exists here with the same email (case-insensitive, not empty):
  one person, one user (what the source may add to that user: ``privileges``);
- the same username with another (or no) email, or the email already used here by
  another username (or by two users of the source): a clash. Any clash stops the
  adoption before anything is written.
"""

import csv
import io
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.management import CommandError
from django.db.models.functions import Lower

from sso_shared.adoption.models import AdoptedUser
from sso_shared.database.routers import SHARED_DB

SKIP = "skip"
NEW, MERGE, SKIPPED, ALREADY = "new", "merge", "skipped", "already adopted"


@dataclass
class UserPlan:
    legacy: object  # legacy.LegacyUser
    action: str
    target_username: str
    existing: object = None  # the user merged into (MERGE) or adopted before (ALREADY)
    reason: str = ""


@dataclass
class Plan:
    users: list[UserPlan] = field(default_factory=list)
    clashes: list[str] = field(default_factory=list)

    def of(self, action: str) -> list[UserPlan]:
        return [user for user in self.users if user.action == action]

    def adopted(self) -> dict:
        """Legacy pk → UserPlan for every user that is or will be adopted."""
        return {user.legacy.pk: user for user in self.users if user.action in (NEW, MERGE, ALREADY)}


def read_map(text: str | None, usernames: set[str]) -> dict[str, str]:
    """The --map CSV: ``source username,target username`` or ``source username,skip``; # starts a comment."""
    if not text:
        return {}
    mapping = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or row[0].strip().startswith("#"):
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise CommandError(f"map file, line {number}: expected 'source username,target username' or ',skip'")
        source, target = row[0].strip(), row[1].strip()
        if source not in usernames:
            raise CommandError(f"map file, line {number}: the source has no user '{source}'")
        mapping[source] = target
    return mapping


def email_key(email: str) -> str:
    return email.strip().lower()


def plan_users(legacy_users, source: str, map_text: str | None) -> Plan:
    User = get_user_model()
    mapping = read_map(map_text, {user.username for user in legacy_users})
    adopted_before = {
        row.old_pk: row.user
        for row in AdoptedUser.objects.using(SHARED_DB).filter(source=source).select_related("user")
    }
    targets = {user.username: mapping.get(user.username, user.username) for user in legacy_users}
    existing_by_name = {
        user.username: user for user in User.objects.using(SHARED_DB).filter(username__in=set(targets.values()))
    }
    emails = {email_key(user.email) for user in legacy_users if user.email.strip()}
    existing_by_email: dict[str, list] = {}
    for user in User.objects.using(SHARED_DB).annotate(email_key=Lower("email")).filter(email_key__in=emails):
        existing_by_email.setdefault(user.email_key, []).append(user)

    plan = Plan()
    for legacy in legacy_users:
        target = targets[legacy.username]
        if legacy.pk in adopted_before:
            user = adopted_before[legacy.pk]
            plan.users.append(UserPlan(legacy, ALREADY, user.username, existing=user))
        elif target == SKIP:
            plan.users.append(UserPlan(legacy, SKIPPED, "", reason="skipped by the map file"))
        else:
            plan.users.append(planned(legacy, target, mapped=legacy.username in mapping, existing=existing_by_name))
    find_clashes(plan, existing_by_email)
    return plan


def planned(legacy, target: str, *, mapped: bool, existing: dict) -> UserPlan:
    user = existing.get(target)
    if user is None:
        return UserPlan(legacy, NEW, target)
    same_email = bool(legacy.email.strip()) and email_key(legacy.email) == email_key(user.email)
    if not (same_email or mapped):
        return UserPlan(legacy, "clash", target, existing=user)
    how = "mapped onto it" if mapped and not same_email else f"same email {legacy.email}"
    return UserPlan(legacy, MERGE, target, existing=user, reason=how)


def find_clashes(plan: Plan, existing_by_email: dict) -> None:
    planned_by_email: dict[str, list[UserPlan]] = {}
    planned_by_name: dict[str, list[UserPlan]] = {}
    for user in plan.users:
        if user.action in (NEW, MERGE):
            planned_by_name.setdefault(user.target_username, []).append(user)
        if user.action == "clash":
            plan.clashes.append(
                f"user '{user.legacy.username}': the username exists here with "
                f"{describe_email(user.existing.email)}, the source has {describe_email(user.legacy.email)}"
            )
            continue
        if user.action in (NEW, MERGE) and user.legacy.email.strip():
            planned_by_email.setdefault(email_key(user.legacy.email), []).append(user)
    for name, users in planned_by_name.items():
        if len(users) > 1:
            listed = ", ".join(f"'{user.legacy.username}'" for user in users)
            plan.clashes.append(f"username '{name}': several users of the source would become it: {listed}")
    for email, users in planned_by_email.items():
        names = {user.target_username for user in users}
        if len(names) > 1:
            listed = ", ".join(f"'{user.legacy.username}'" for user in users)
            plan.clashes.append(f"email {email}: the source has it under several usernames: {listed}")
            continue
        others = sorted(other.username for other in existing_by_email.get(email, ()) if other.username not in names)
        if others:
            plan.clashes.append(
                f"user '{users[0].legacy.username}': email {email} is already used here by '{', '.join(others)}'"
            )


def describe_email(email: str) -> str:
    return f"email {email}" if email.strip() else "no email"
