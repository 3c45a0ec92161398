from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.db import connections
from django.http import JsonResponse
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from sso_shared.database.routers import SHARED_MIGRATIONS_DB
from sso_shared.login_protection.password_change_forms import CountedAdminPasswordChangeForm, CountedPasswordChangeForm
from sso_shared.operations.audit import PASSWORD_CHANGE, record
from sso_shared.second_factor.rules import has_second_factor, start_second_step


@require_GET
@never_cache
def whoami(request):
    user = request.user
    return JsonResponse(
        {
            "service": settings.SSO_SERVICE_NAME,
            "authenticated": user.is_authenticated,
            "username": user.get_username() if user.is_authenticated else None,
        }
    )


@require_GET
@never_cache
def health(request):
    """200 when the database answers; used by healthchecks and `stack up`.

    Otherwise 503, naming each database that does not answer: ``failed`` maps its
    alias to the error's class, ``missing`` lists "alias (database name)". The alias
    that only migrates the shared schema is not asked: a request never uses it.
    """
    failures = {}
    for alias in run_time_aliases():
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as error:  # any database failure means unhealthy
            failures[alias] = error.__class__.__name__
    missing = [f"{alias} ({settings.DATABASES[alias]['NAME']})" for alias in failures]
    return JsonResponse(
        {"service": settings.SSO_SERVICE_NAME, "ok": not failures, "failed": failures, "missing": missing},
        status=503 if failures else 200,
    )


def run_time_aliases() -> list[str]:
    return [alias for alias in settings.DATABASES if alias != SHARED_MIGRATIONS_DB]


@never_cache
def admin_login(request, extra_context=None):
    """Send anonymous visitors of any admin to the one login page on A."""
    if request.user.is_authenticated:
        return admin.site.login(request, extra_context)
    next_url = request.GET.get("next") or reverse("admin:index")
    return redirect_to_login(next_url, settings.LOGIN_URL)


class LoginView(auth_views.LoginView):
    """The one login page: Django's, except that a ``next`` leading back to this page is dropped.

    Django sends a logged-in visitor on to ``next``: ``?next=/a/accounts/login/`` made it raise
    "Redirection loop" (a 500), and nested ``next`` values bounced through this page once per level.
    Such a ``next`` counts as none, so the visitor lands on LOGIN_REDIRECT_URL (after logging in,
    too: the form's hidden ``next`` is left empty).
    """

    redirect_authenticated_user = True

    def get_redirect_url(self):
        url = super().get_redirect_url()  # "" unless it is on this site
        return "" if url and leads_to_login(url) else url

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["password_reset_by_mail"] = settings.SSO_PASSWORD_RESET_BY_MAIL
        return context

    def form_valid(self, form):
        """The password was right. A user with a second factor is not logged in yet: the second step
        (sso_shared.second_factor.login_step) logs in once that is right too."""
        user = form.get_user()
        if not has_second_factor(user):
            return super().form_valid(form)
        start_second_step(self.request, user, form.cleaned_data["username"], self.get_success_url())
        return redirect("login_second_step")


def leads_to_login(url: str) -> bool:
    """True when the URL's path is the login page, however it is spelled (encoded, no final slash)."""
    login_path = urlsplit(resolve_url(settings.LOGIN_URL)).path
    return unquote(urlsplit(url).path).rstrip("/") == login_path.rstrip("/")


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change, recorded in the audit trail (Django sends no signal for it).

    Its old password is checked like a login: locked, counted and audited
    (sso_shared.login_protection.password_change_forms).
    """

    form_class = CountedPasswordChangeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form):
        response = super().form_valid(form)
        record(PASSWORD_CHANGE, self.request, user=form.user)
        if form.user.must_change_password:  # a temporary password (sso_shared.accounts.recovery) is gone now
            form.user.must_change_password = False
            form.user.save(update_fields=["must_change_password"])
        return response


def admin_password_change(request, extra_context=None):
    """The admin's own password change (admin.site.password_change), its old password checked like a login."""
    request.current_app = admin.site.name
    return PasswordChangeView.as_view(
        form_class=CountedAdminPasswordChangeForm,
        success_url=reverse("admin:password_change_done", current_app=admin.site.name),
        extra_context={**admin.site.each_context(request), **(extra_context or {})},
    )(request)
