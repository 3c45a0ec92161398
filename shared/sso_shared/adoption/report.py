"""The adoption report: what a run found and does (or, with --dry-run, would do)."""

from dataclasses import fields

from django.conf import settings

from sso_shared.adoption import plan, privileges


def names(users, attribute=lambda user: user.legacy.username) -> str:
    return ", ".join(attribute(user) for user in users) or "none"


def user_lines(survey) -> list[str]:
    users = survey.users
    new, merged = users.of(plan.NEW), users.of(plan.MERGE)
    skipped, already = users.of(plan.SKIPPED), users.of(plan.ALREADY)
    lines = [
        f"Users: {len(users.users)} in the source: {len(new)} new, {len(merged)} one user with an existing user, "
        f"{len(skipped)} skipped, {len(already)} adopted before, {len(users.clashes)} clashes"
    ]
    if new:
        lines.append(f"  new: {names(new, describe_new)}")
    for user in merged:
        lines.append(f"  one user: {user.legacy.username} = {user.target_username} ({user.reason})")
    if skipped:
        lines.append(f"  skipped (map file): {names(skipped)}")
    if already:
        lines.append(f"  adopted before, left alone: {names(already)}")
    return lines


def privilege_lines(survey) -> list[str]:
    """Every privilege and credential each user brings, brought (+) or left out (-, with its option)."""
    listed = [user for user in survey.users.users if survey.grants.get(user.legacy.pk)]
    if not listed:
        return []
    lines = ["What each user brings (+ brought; - left out, with the option that would let it in):"]
    for user in listed:
        lines.append(f"  {user.legacy.username} ({describe_action(user)})")
        lines.extend(f"    {item.line()}" for item in survey.grants[user.legacy.pk].items)
    return lines


def describe_action(user) -> str:
    if user.action == plan.NEW:
        return "new" if user.target_username == user.legacy.username else f"new, as {user.target_username}"
    if user.action == plan.MERGE:
        return f"one user with {user.target_username} here"
    return f"adopted before, as {user.target_username}"


def describe_new(user) -> str:
    if user.target_username != user.legacy.username:
        return f"{user.legacy.username} (as {user.target_username})"
    return user.legacy.username


def group_lines(survey) -> list[str]:
    groups = survey.groups
    lines = [f"Groups: {len(groups)} in the source"]
    for group in groups:
        state = "exists here" if group.exists else "new"
        listed = "".join(f"\n    {item.line()}" for item in group.items)
        lines.append(f"  {group.name} ({state}): permissions to add: {len(group.to_add)}{listed}")
    if survey.unmatched:
        lines.append(
            f"Permissions with no counterpart in {title(survey.service)} (not adopted): {len(survey.unmatched)}"
        )
        for permission, where in sorted(survey.unmatched.items()):
            lines.append(f"  {permission}: {', '.join(where)}")
    else:
        lines.append(f"Permissions with no counterpart in {title(survey.service)}: none")
    return lines


def session_lines(survey) -> list[str]:
    if not survey.data.has_session_table:
        return ["Sessions: the source has no django_session table (nobody to keep logged in)"]
    sessions = survey.sessions
    lines = [
        f"Sessions: {sessions.total} in the source, {sessions.total - sessions.expired} unexpired, all verified "
        f"with the given SECRET_KEY: {len(survey.sessions_to_carry)} to carry over, "
        f"{survey.sessions_carried_before} carried before, "
        f"{survey.sessions_left_out} of users here already (left out: --take-sessions), "
        f"{sessions.anonymous} anonymous, "
        f"{sessions.stale} logged out by a password change, "
        f"{survey.sessions_of_users_not_adopted} of users not adopted"
    ]
    if not sessions.total - sessions.expired:
        lines.append("  (no unexpired session: the SECRET_KEY could not be checked against any)")
    configured = [entry.split(":", 1)[0] for entry in settings.SSO_LEGACY_SESSION_COOKIES]
    found = "yes" if survey.cookie in configured else "NO: set SSO_LEGACY_SESSION_COOKIES in .env and restart"
    lines.append(f"  legacy cookie: {survey.cookie} (the services look for it: {found})")
    return lines


def title(service: str) -> str:
    return settings.SSO_SERVICES[service]["title"]


def left_out_lines(survey) -> list[str]:
    """How many privileges and credentials stay out, and which options would let them in."""
    items = [item for grants in survey.grants.values() for item in grants.items]
    items += [item for group in survey.groups for item in group.items]
    left_out = [item for item in items if not item.brought]
    if not left_out:
        return ["Left out: nothing"]
    needed = {option.name: 0 for option in fields(privileges.Options)}
    for item in left_out:
        for name in item.needs:
            needed[name] += 1
    options = ", ".join(f"{privileges.option_flag(name)} ({count})" for name, count in needed.items() if count)
    return [f"Left out: {len(left_out)} (marked - above); the options that would let them in: {options or 'none'}"]


def render(survey, *, dry_run: bool) -> str:
    lines = [
        f"Adopting {survey.label} into {title(survey.service)} (source name '{survey.source}')",
        *user_lines(survey),
        *privilege_lines(survey),
        *group_lines(survey),
        *session_lines(survey),
        *left_out_lines(survey),
    ]
    if survey.users.clashes:
        lines.append(f"Clashes: {len(survey.users.clashes)}")
        lines.extend(f"  {clash}" for clash in survey.users.clashes)
    return "\n".join(lines)
