"""The adoption report: what a run found and does (or, with --dry-run, would do)."""

from django.conf import settings

from . import plan


def when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


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
        password = (
            f"the source's password wins (last login there {when(user.legacy.last_login)}, "
            f"here {when(user.existing.last_login)})"
            if user.password_from_source
            else f"the password here wins (last login here {when(user.existing.last_login)}, "
            f"there {when(user.legacy.last_login)})"
        )
        lines.append(f"  one user: {user.legacy.username} = {user.target_username} ({user.reason}); {password}")
        if user.legacy.is_superuser and not user.existing.is_superuser:
            lines.append(f"    {user.target_username} stays without superuser status (grant it in the admin if meant)")
    if skipped:
        lines.append(f"  skipped (map file): {names(skipped)}")
    if already:
        lines.append(f"  adopted before, left alone: {names(already)}")
    return lines


def describe_new(user) -> str:
    if user.target_username != user.legacy.username:
        return f"{user.legacy.username} (as {user.target_username})"
    return user.legacy.username


def group_lines(survey) -> list[str]:
    groups = survey.groups
    lines = [f"Groups: {len(groups)} in the source"]
    for group in groups:
        state = "exists here" if group.exists else "new"
        lines.append(f"  {group.name} ({state}): permissions to add: {len(group.to_add)}")
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
        f"{survey.sessions_carried_before} carried before, {sessions.anonymous} anonymous, "
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


def render(survey, *, dry_run: bool) -> str:
    lines = [
        f"Adopting {survey.label} into {title(survey.service)} (source name '{survey.source}')",
        *user_lines(survey),
        *group_lines(survey),
        *session_lines(survey),
    ]
    if survey.users.clashes:
        lines.append(f"Clashes: {len(survey.users.clashes)}")
        lines.extend(f"  {clash}" for clash in survey.users.clashes)
    return "\n".join(lines)
