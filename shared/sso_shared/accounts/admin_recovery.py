"""Account recovery by an administrator, in either service's admin: a user's "Recovery" page, and an
action on the user list.

On the page (``<user id>/recovery/``, linked from the user's page) an administrator:

- resets the user's second factor (every authenticator app, passkey and recovery code goes, and
  every session: they log in with their password and, where it is required, set up a new one);
- makes a one-time password reset link, shown on the page, to hand over by other means;
- sets a temporary password, shown once, which the user must change at the next login.

The reset and the temporary password end every session of the user at once; a link does when it
is used (sso_shared.accounts.recovery). Only for those who may change that user
(``has_change_permission``, which refuses superusers and users holding more than the
administrator, see sso_shared.accounts.admin), and each step is audited with the administrator's address
(sso_shared.accounts.recovery, sso_shared.second_factor.rules). The user list's action "Reset the second factor"
does the first for many users at once.
"""

import secrets

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path

from sso_shared.accounts import recovery
from sso_shared.operations import audit
from sso_shared.second_factor import rules as second_factor
from sso_shared.sessions.admin_actions import users
from sso_shared.sessions.store import end_sessions_of

# Long enough to resist guessing for the short while it lives; easy to read out over a phone.
TEMPORARY_PASSWORD_BYTES = 12


def temporary_password() -> str:
    return secrets.token_urlsafe(TEMPORARY_PASSWORD_BYTES)


class AccountRecoveryAdminMixin:
    """For the shared user's ModelAdmin, before ``UserAdmin`` in its bases."""

    actions = ["reset_second_factor"]
    recovery_template = "admin/sso_shared/user/recovery.html"

    @admin.action(
        description="Reset the second factor of the selected users (and log them out)", permissions=["change"]
    )
    def reset_second_factor(self, request, queryset):
        selected = list(queryset)
        allowed = [user for user in selected if self.has_change_permission(request, user)]
        had = second_factor.reset_by_admin(allowed, request)
        if allowed:
            self.message_user(request, f"Second factor reset: {users(len(allowed))} ({had} had one), all logged out.")
        if refused := len(selected) - len(allowed):
            self.message_user(
                request, f"{users(refused)} left as they were: you may not change them.", messages.WARNING
            )

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_recovery"
        view = self.admin_site.admin_view(self.recovery_view)
        return [path("<path:object_id>/recovery/", view, name=name), *super().get_urls()]

    def recovery_view(self, request, object_id):
        """GET shows where the user stands; POST does one of the three (``do``) and shows what came of it."""
        user = self.get_object(request, unquote(object_id))
        if user is None:
            raise Http404(f"No {self.opts.verbose_name} with this id.")
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        result = {}
        if request.method == "POST":
            result = self.recover(request, user, request.POST.get("do", ""))
            user.refresh_from_db()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Recovery of {user}",
            "object": user,
            "opts": self.opts,
            "has_second_factor": second_factor.has_second_factor(user),
            "password_reset_by_mail": settings.SSO_PASSWORD_RESET_BY_MAIL,
            **result,
        }
        return TemplateResponse(request, self.recovery_template, context)

    def recover(self, request, user, what: str) -> dict:
        if what == "reset_second_factor":
            second_factor.reset_by_admin([user], request)
            self.message_user(request, f"Second factor of {user} reset; {user} is logged out everywhere.")
            return {}
        if what == "reset_link":
            # The user's sessions end when the link is used, not now: they may just have forgotten it.
            link = request.build_absolute_uri(recovery.make_reset_link(user, request))
            return {"reset_link": link, "link_expires_at": recovery.link_expires_at()}
        if what == "temporary_password":
            password = temporary_password()
            user.set_password(password)
            user.must_change_password = True
            user.save(update_fields=["password", "must_change_password"])
            audit.record(audit.TEMPORARY_PASSWORD_SET, request, user=user)
            end_sessions_of([user], request)
            return {"temporary_password": password}
        self.message_user(request, "Nothing was done: choose one of the buttons.", messages.WARNING)
        return {}
