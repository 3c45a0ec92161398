"""Refuse to start a service whose settings would silently break the shared login.

Used by ``manage.py sso_register`` (the stack runs it before each service) and by
gunicorn's ``on_starting`` hook (sso_shared.gunicorn_defaults), so a service
started either way compares before it serves.
"""

from sso_shared.agreement.records import SharedDatabaseUnavailable, register, this_service


class StartRefused(Exception):
    pass


def register_or_refuse(report=print) -> None:
    """Record this service's fingerprint; raise StartRefused with the reasons when it must not start."""
    service = this_service()
    try:
        findings = register()
    except SharedDatabaseUnavailable as error:
        raise StartRefused(f"{service} cannot compare its settings with the other services: {error}.") from None
    errors = [finding for finding in findings if finding.is_error]
    for warning in (finding for finding in findings if not finding.is_error):
        report(str(warning))
    if errors:
        reasons = "\n".join(str(error) for error in errors)
        raise StartRefused(f"{service} refuses to start: its settings break the shared login.\n{reasons}")
