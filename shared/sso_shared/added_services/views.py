"""The one login for an added project's admins (sso_shared.added_services.urls)."""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache


@never_cache
def admin_login(request, extra_context=None):
    """Anonymous: to A's login page, then back. Logged in: this admin is not theirs (403), no redirect."""
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("sso_admin_login")
    if not request.user.is_authenticated:
        return redirect_to_login(next_url, settings.LOGIN_URL)
    return render(request, "sso_shared/no_admin_access.html", {"home": f"{settings.FORCE_SCRIPT_NAME}/"}, status=403)
