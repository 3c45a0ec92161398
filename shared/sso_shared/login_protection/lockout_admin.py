"""The lockout in both admins: who failed to log in from where, who is locked until when, and lifting it.

django-axes' own admin classes, with the columns that say whether a pair is locked
now (sso_shared.login_protection.lockout) and one action that lifts the lock by deleting its record.
Its admin for the access logs is left out (AXES_ENABLE_ADMIN = False): the audit
trail records logins. The records live in the shared database, so either admin
shows and lifts the same locks.
"""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import ngettext


@admin.register(AccessAttempt)
class LoginFailuresAdmin(AccessAttemptAdmin):
    list_display = ["username", "ip_address", "failures_since_start", "attempt_time", "lock"]
    list_filter = ["attempt_time"]
    actions = ["lift_lockout"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("expiration")

    @admin.display(description="Lock")
    def lock(self, obj: AccessAttempt) -> str:
        expiration = getattr(obj, "expiration", None)
        until = expiration.expires_at if expiration is not None else None
        if obj.failures_since_start < settings.AXES_FAILURE_LIMIT:
            return f"not locked ({settings.AXES_FAILURE_LIMIT - obj.failures_since_start} more to lock)"
        if until is None or until <= timezone.now():
            return "ended"
        return f"locked until {timezone.localtime(until):%Y-%m-%d %H:%M %Z}"

    @admin.action(description="Lift the lock (forget these failed logins)", permissions=["delete"])
    def lift_lockout(self, request, queryset):
        pairs = sorted({f"{attempt.username} from {attempt.ip_address}" for attempt in queryset})
        queryset.delete()
        self.message_user(
            request,
            ngettext("Lifted the lock of %(pairs)s.", "Lifted the locks of %(pairs)s.", len(pairs))
            % {"pairs": ", ".join(pairs)},
            messages.SUCCESS,
        )
