"""Account recovery: a forgotten password, with mail or without (docs/login-protection.md, "Recovery").

- **With mail** (``EMAIL_HOST`` set: the site's internal SMTP relay), Django's password reset
  runs beside the one login page: ``/a/accounts/password_reset/`` takes an email address and
  always answers the same page, whether an account has it or not; the mail (sent apart from the
  answer, so its time says nothing either) holds a link that sets a new password once. It is
  throttled: nginx counts its POSTs per client address like logins, and an account gets at
  most ``RESET_MAILS_PER_HOUR`` mails an hour, however many addresses ask.
- **Without mail**, an administrator makes the same one-time link (the admin action "Make a
  one-time password reset link", or ``manage.py sso_reset_link USERNAME``) and hands it over by
  other means. Links expire after ``PASSWORD_RESET_HOURS`` (default 24).
- An administrator can set a **temporary password** (sso_shared.accounts.admin_recovery): the user must
  change it at the next login (sso_shared.accounts.requirements), on every service.

Every way ends all other sessions of the user, and every step is audited (``reset_requested``,
``reset_link_made``, ``password_reset``, ``temp_password_set``). None logs anybody in: after a
reset the user logs in as usual, with their second factor if they have one. Only a recovery code
at the login's second step, or an administrator's reset of the second factor, gets past a lost one.
"""

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.shortcuts import render
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from sso_shared.database.routers import SHARED_DB
from sso_shared.operations import audit
from sso_shared.sessions.store import end_sessions_of

logger = logging.getLogger(__name__)

RESET_MAILS_PER_HOUR = 3


def reset_link_path(user) -> str:
    """The path of a one-time link that sets a new password for the user (Django's token), on A:
    either service's admin makes it (B serves no reset page of its own)."""
    uid = urlsafe_base64_encode(force_bytes(user._meta.pk.value_to_string(user)))
    return f"{settings.SSO_PASSWORD_RESET_URL}{uid}/{default_token_generator.make_token(user)}/"


def link_expires_at():
    return timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)


def make_reset_link(user, request=None) -> str:
    """A one-time reset link made by an administrator (admin action, sso_reset_link): audited."""
    path = reset_link_path(user)
    audit.record(audit.RESET_LINK_MADE, request, user=user)
    return path


def mails_in_the_last_hour(user) -> int:
    since = timezone.now() - timedelta(hours=1)
    events = audit.event_model().objects.using(SHARED_DB)
    return events.filter(kind=audit.RESET_REQUESTED, user_id=user.pk, time__gte=since).count()


class ThrottledPasswordResetForm(PasswordResetForm):
    """Django's form: mails only to active users with a password, at most RESET_MAILS_PER_HOUR each."""

    def get_users(self, email):
        found = False
        for user in super().get_users(email):
            found = True
            if mails_in_the_last_hour(user) >= RESET_MAILS_PER_HOUR:
                logger.warning(
                    "password reset mail for %s not sent: %d in the last hour", user.pk, RESET_MAILS_PER_HOUR
                )
                continue
            audit.record(audit.RESET_REQUESTED, self.request, user=user)
            yield user
        if not found:
            audit.record(audit.RESET_REQUESTED, self.request)

    def save(self, *args, request=None, **kwargs):
        self.request = request
        return super().save(*args, request=request, **kwargs)

    def send_mail(self, *args, **kwargs):
        """Sent by a thread of its own: the answer comes as fast whether a mail goes out or not."""
        sender = threading.Thread(target=super().send_mail, args=args, kwargs=kwargs, daemon=True)
        sender.start()
        SENDERS[:] = [*(thread for thread in SENDERS if thread.is_alive()), sender]


# The mail senders started by this process, so tests can wait for them.
SENDERS: list[threading.Thread] = []


def reset_hours() -> int:
    return settings.PASSWORD_RESET_TIMEOUT // 3600


class PasswordResetView(auth_views.PasswordResetView):
    """The email form; without mail configured, a page saying to ask an administrator."""

    form_class = ThrottledPasswordResetForm

    def dispatch(self, request, *args, **kwargs):
        if not settings.SSO_PASSWORD_RESET_BY_MAIL:
            return render(request, "registration/password_reset_by_admin.html", status=404)
        self.extra_email_context = {"reset_hours": reset_hours()}
        return super().dispatch(request, *args, **kwargs)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    """The same answer whether an account has the address or not."""

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "reset_hours": reset_hours()}


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's: a new password, once. Then every session of the user ends; nobody is logged in."""

    def get_context_data(self, **kwargs):
        from sso_shared.second_factor.rules import has_second_factor

        context = super().get_context_data(**kwargs)
        context["password_reset_by_mail"] = settings.SSO_PASSWORD_RESET_BY_MAIL
        context["user_has_second_factor"] = bool(self.user) and has_second_factor(self.user)
        return context

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.user
        if user.must_change_password:
            user.must_change_password = False
            user.save(update_fields=["must_change_password"])
        audit.record(audit.PASSWORD_RESET, self.request, user=user)
        end_sessions_of([user], self.request)
        return response
