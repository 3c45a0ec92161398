"""Ending all sessions of a user from either service's admin: an action on the user list and a
link on the user's page, which asks before it logs the user out everywhere.

Only for those who may change that user (``has_change_permission`` with the user,
which already refuses superusers and users holding more than the admin does, see
sso_shared.accounts.admin): ending sessions of someone one may not change is refused like
changing them. Each user's ending is recorded in the audit trail
(``session_revoked``, with the admin's address). docs/sessions.md.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

from sso_shared.sessions.store import end_sessions_of, logged_in_sessions_of


def users(count: int) -> str:
    return f"{count} user" if count == 1 else f"{count} users"


def sessions(count: int) -> str:
    return f"{count} session" if count == 1 else f"{count} sessions"


class EndSessionsAdminMixin:
    """For the shared user's ModelAdmin, before ``UserAdmin`` in its bases."""

    actions = ["end_sessions"]
    end_sessions_template = "admin/sso_shared/user/end_sessions.html"

    @admin.action(description="Log out everywhere: end all sessions of the selected users", permissions=["change"])
    def end_sessions(self, request, queryset):
        selected = list(queryset)
        allowed = [user for user in selected if self.has_change_permission(request, user)]
        ended = end_sessions_of(allowed, request)
        if allowed:
            self.message_user(request, f"Logged out everywhere: {users(len(allowed))}, {sessions(ended)} ended.")
        if refused := len(selected) - len(allowed):
            self.message_user(request, f"{users(refused)} left logged in: you may not change them.", messages.WARNING)

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_end_sessions"
        view = self.admin_site.admin_view(self.end_sessions_view)
        return [path("<path:object_id>/end-sessions/", view, name=name), *super().get_urls()]

    def end_sessions_view(self, request, object_id):
        """GET asks (how many live sessions, whose); POST ends them all and goes back to the user's page."""
        user = self.get_object(request, unquote(object_id))
        if user is None:
            raise Http404(f"No {self.opts.verbose_name} with this id.")
        if not self.has_change_permission(request, user):
            raise PermissionDenied
        if request.method == "POST":
            ended = end_sessions_of([user], request)
            self.message_user(request, f"Logged {user} out everywhere: {sessions(ended)} ended.")
            return redirect(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", user.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Log {user} out everywhere?",
            "object": user,
            "opts": self.opts,
            "live_sessions": len(logged_in_sessions_of(user)),
        }
        return TemplateResponse(request, self.end_sessions_template, context)
