"""Housekeeping: remove what nobody needs any more from the shared database.

- expired sessions (``sso_session``; what Django's ``clearsessions`` removes for
  this session store), deleted in batches so no single transaction holds a
  million rows' locks;
- audit events older than ``SSO_AUDIT_RETENTION_DAYS`` (``sso_shared.operations.audit.prune``);
- django-axes' lockout rows, when axes is installed (``prune_lockout_rows``;
  a no-op otherwise).

It runs as the maintenance role (``sso_maintenance``), the one role besides the
tables' owner that may delete audit events: the services may only add them
(sso_shared.database.table_rights). One run at a time: a run holds a PostgreSQL advisory
lock on the shared database, and a run that finds it taken skips (nothing is
deleted twice, no run waits on another). ``manage.py sso_housekeeping`` runs it; the Compose service
``maintenance`` and the native stack's supervisor run that command every
``SSO_HOUSEKEEPING_INTERVAL`` seconds (docs/failures.md).
https://docs.djangoproject.com/en/5.2/topics/http/sessions/#clearing-the-session-store
"""

from dataclasses import dataclass, field

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from sso_shared.database.locks import HOUSEKEEPING_LOCK_ID, advisory_lock_or_none
from sso_shared.database.routers import upkeep_db
from sso_shared.operations import audit
from sso_shared.sessions.store import session_model

SESSION_BATCH = 20_000


@dataclass
class Report:
    ran: bool = True
    sessions: int = 0
    audit_events: int = 0
    lockout_rows: dict = field(default_factory=dict)

    def line(self) -> str:
        if not self.ran:
            return "housekeeping skipped: another run holds the lock"
        lockout = (
            " ".join(f"{name}={count}" for name, count in self.lockout_rows.items()) or "none (axes not installed)"
        )
        return (
            f"housekeeping removed expired_sessions={self.sessions} "
            f"old_audit_events={self.audit_events} lockout_rows: {lockout}"
        )


def clear_expired_sessions(now=None, batch: int = SESSION_BATCH) -> int:
    """Delete the sessions past their expiry, a batch per transaction; returns how many."""
    now = now or timezone.now()
    model, db = session_model(), upkeep_db()
    expired = model.objects.using(db).filter(expire_date__lt=now)
    total = 0
    while True:
        with transaction.atomic(using=db):
            keys = expired.values("pk")[:batch]
            deleted, _ = model.objects.using(db).filter(pk__in=keys).delete()
        total += deleted
        if deleted < batch:
            return total


def prune_lockout_rows(now=None) -> dict:
    """django-axes' rows past their use, when axes is installed; {} when it is not.

    A lockout attempt whose cool-off has ended (each one records its end:
    AXES_USE_ATTEMPT_EXPIRATION) locks nobody out any more and counts for nothing;
    its access logs are kept as long as the audit trail (SSO_AUDIT_RETENTION_DAYS).
    """
    if not apps.is_installed("axes"):
        return {}
    now, db = now or timezone.now(), upkeep_db()
    removed = {}
    attempts = apps.get_model("axes", "AccessAttempt")
    removed["attempts"], _ = attempts.objects.using(db).filter(expiration__expires_at__lt=now).delete()
    cutoff = now - audit.retention()
    for name, time_field in (("AccessLog", "attempt_time"), ("AccessFailureLog", "attempt_time")):
        try:
            model = apps.get_model("axes", name)
        except LookupError:
            continue
        removed[name.lower()], _ = model.objects.using(db).filter(**{f"{time_field}__lt": cutoff}).delete()
    return removed


def pruned_models() -> list:
    """The models whose rows a run deletes: what the maintenance role may read and delete
    (sso_shared.database.table_rights)."""
    models = [session_model(), audit.event_model()]
    if apps.is_installed("axes"):
        for name in ("AccessAttempt", "AccessAttemptExpiration", "AccessLog", "AccessFailureLog"):
            try:
                models.append(apps.get_model("axes", name))
            except LookupError:
                continue
    return models


def run(now=None) -> Report:
    """One housekeeping run under the lock; a Report of what it removed (ran=False when skipped)."""
    with advisory_lock_or_none(upkeep_db(), HOUSEKEEPING_LOCK_ID) as acquired:
        if not acquired:
            report = Report(ran=False)
        else:
            report = Report(
                sessions=clear_expired_sessions(now),
                audit_events=audit.prune(now),
                lockout_rows=prune_lockout_rows(now),
            )
    return report
