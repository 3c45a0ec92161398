"""Compare this service's fingerprint with another service's record, and say what breaks.

Pure functions over records: the system check, ``sso_register``, gunicorn's
start-up hook and ``sso_doctor`` all ask the same questions here.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime

from django.core import checks

from sso_shared.agreement.fingerprint import SHARED_MIGRATIONS, SHARED_SETTINGS, SharedSetting

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Record:
    """One service's fingerprint and app labels, as stored in the shared database."""

    service: str
    fingerprint: dict
    app_labels: list[str] = field(default_factory=list)
    updated_at: datetime | None = None
    # Whether the service holds its presence lock now (sso_shared.agreement.presence).
    running: bool = False


@dataclass(frozen=True)
class Finding:
    level: str
    code: str
    message: str
    hint: str = ""

    @property
    def is_error(self) -> bool:
        return self.level == ERROR

    def as_check_message(self) -> checks.CheckMessage:
        kind = checks.Error if self.is_error else checks.Warning
        return kind(self.message, hint=self.hint or None, id=f"sso_shared.{self.code}")

    def __str__(self) -> str:
        return f"{self.message}\n  HINT: {self.hint}" if self.hint else self.message


def running_record_note(setting: str, theirs: Record) -> str:
    """Only a running service's record is compared: say so, and how to move on."""
    when = f" (recorded at {theirs.updated_at:%Y-%m-%d %H:%M} UTC)" if theirs.updated_at else ""
    return (
        f"{theirs.service} is running with its setting{when}. To change {setting}, change it in both and restart "
        f"both; a stopped service's record blocks nothing."
    )


def compare_secret_keys(setting: SharedSetting, mine: Record, theirs: Record) -> Finding | None:
    """Sessions flow both ways: each key a service signs with must be one the other accepts.

    Comparing "signs with" against "accepts" (the key plus SECRET_KEY_FALLBACKS)
    lets a rotation pass: the service restarted first with the new key and the
    old one as fallback still reads what the other signs.
    """
    ours, other = mine.fingerprint["SECRET_KEY"], theirs.fingerprint["SECRET_KEY"]
    they_read_ours = ours["signs_with"] in other["accepts"]
    we_read_theirs = other["signs_with"] in ours["accepts"]
    if they_read_ours and we_read_theirs:
        return None
    if not they_read_ours and not we_read_theirs:
        return mismatch(setting, mine, theirs, hint=running_record_note(setting.name, theirs))
    reader, writer = (theirs.service, mine.service) if we_read_theirs else (mine.service, theirs.service)
    return Finding(
        WARNING,
        "W001",
        f"SECRET_KEY rotation in progress: {reader} does not accept the key {writer} signs with, so sessions "
        f"{writer} writes look empty on {reader} until {reader} restarts with the same SECRET_KEY and "
        "SECRET_KEY_FALLBACKS.",
        hint="See docs/security.md, 'Rotating SECRET_KEY': put the new key in SECRET_KEY_FALLBACKS everywhere first.",
    )


def mismatch(setting: SharedSetting, mine: Record, theirs: Record, *, hint: str) -> Finding:
    return Finding(
        ERROR,
        "E001",
        f"{setting.name} of {mine.service} differs from {theirs.service}: {setting.consequence}. {setting.how_to_fix}",
        hint=hint,
    )


def shown(value) -> str:
    return json.dumps(value, sort_keys=True)


def compare_setting(setting: SharedSetting, mine: Record, theirs: Record) -> Finding | None:
    """None when both agree, or when the other's record predates this setting (unless that matters)."""
    if setting.name not in theirs.fingerprint:
        if setting.missing_matters and setting.missing_matters(mine.fingerprint[setting.name]):
            hint = f"{theirs.service} records no {setting.name}. {running_record_note(setting.name, theirs)}"
            return mismatch(setting, mine, theirs, hint=hint)
        return None
    if setting.name == "SECRET_KEY":
        return compare_secret_keys(setting, mine, theirs)
    if setting.name == SHARED_MIGRATIONS:
        return compare_shared_migrations(setting, mine, theirs)
    ours, other = mine.fingerprint[setting.name], theirs.fingerprint[setting.name]
    if ours == other:
        return None
    values = f"{mine.service} has {shown(ours)}; {theirs.service} has {shown(other)}."
    return mismatch(setting, mine, theirs, hint=f"{values} {running_record_note(setting.name, theirs)}")


def compare_shared_migrations(setting: SharedSetting, mine: Record, theirs: Record) -> Finding | None:
    ours, other = set(mine.fingerprint[setting.name]), set(theirs.fingerprint[setting.name])
    if ours == other:
        return None
    known_only = [
        f"{service} knows {', '.join(sorted(names))} and {other_service} does not"
        for service, other_service, names in (
            (mine.service, theirs.service, ours - other),
            (theirs.service, mine.service, other - ours),
        )
        if names
    ]
    return Finding(
        ERROR,
        "E003",
        f"The {setting.name} differ between {mine.service} and {theirs.service}: {'; '.join(known_only)}. "
        f"{setting.consequence[0].upper()}{setting.consequence[1:]}.",
        hint=f"Run both on the same release: upgrade the older one (or stop it), then start it again. "
        f"{running_record_note(setting.name, theirs)}",
    )


def label_clashes(mine: Record, theirs: Record) -> list[Finding]:
    return [
        Finding(
            ERROR,
            "E002",
            f"App label '{label}' is used by both {mine.service} and {theirs.service}: their content types and "
            "permissions share one table in the shared database, so a permission on one grants the other and "
            "remove_stale_contenttypes of one deletes the other's. Give the app a unique label "
            "(AppConfig.label) in one of them.",
        )
        for label in sorted(set(mine.app_labels) & set(theirs.app_labels))
    ]


def disagreements(mine: Record, others: list[Record]) -> list[Finding]:
    findings = []
    for theirs in others:
        findings += [f for s in SHARED_SETTINGS if (f := compare_setting(s, mine, theirs))]
        findings += label_clashes(mine, theirs)
    return findings
