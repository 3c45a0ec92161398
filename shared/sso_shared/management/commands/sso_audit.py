"""Print the audit trail, oldest first, or prune it.

``sso_audit [--user NAME] [--since ISO] [--last N]`` prints one line per event:
``<ISO time> <kind> service=<a|b> user=<username or attempted> address=<addr>``.
``sso_audit --prune`` deletes the events older than SSO_AUDIT_RETENTION_DAYS: only as the
maintenance role (housekeeping runs it), since a service's role may only add events.
"""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from sso_shared.database.routers import SHARED_DB
from sso_shared.operations import audit


def parse_since(value: str):
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--since {value!r} is no ISO date or time (e.g. 2026-01-31 or 2026-01-31T08:00:00Z).")
        moment = datetime(day.year, day.month, day.day)  # noqa: DTZ001 (made aware below)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def line(event) -> str:
    return (
        f"{event.time.isoformat()} {event.kind} service={event.service} "
        f"user={audit.printable(event.username) or '-'} address={event.address or '-'}"
    )


class Command(BaseCommand):
    help = "Print the audit trail (oldest first), or delete events older than SSO_AUDIT_RETENTION_DAYS with --prune."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--user", metavar="NAME", help="only events of this user, or logins tried with this name")
        parser.add_argument("--since", metavar="ISO", help="only events at or after this date or time")
        parser.add_argument("--last", metavar="N", type=int, help="only the last N events")
        parser.add_argument("--prune", action="store_true", help="delete events older than the retention instead")

    def handle(self, *args, user, since, last, prune: bool, verbosity, **options):
        if prune:
            if user or since or last is not None:
                raise CommandError("--prune takes no --user, --since or --last.")
            try:
                deleted = audit.prune()
            except audit.PruneRefused as refused:
                raise CommandError(str(refused)) from None
            if verbosity:
                self.stdout.write(f"Deleted {deleted} audit events older than the retention.")
            return
        if last is not None and last < 1:
            raise CommandError("--last must be at least 1.")
        events = audit.event_model().objects.using(SHARED_DB)
        if user:
            ids = get_user_model()._default_manager.db_manager(SHARED_DB).filter(username=user).values("pk")
            events = events.filter(Q(username=user) | Q(user_id__in=ids))
        if since:
            events = events.filter(time__gte=parse_since(since))
        if last is not None:
            events = reversed(list(events.order_by("-time", "-id")[:last]))
        else:
            events = events.order_by("time", "id").iterator()
        for event in events:
            self.stdout.write(line(event))
