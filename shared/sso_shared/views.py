from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.db import connections
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


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
    """200 when both databases answer; used by healthchecks and `stack up`."""
    failures = {}
    for alias in settings.DATABASES:
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as error:  # any database failure means unhealthy
            failures[alias] = error.__class__.__name__
    status = 503 if failures else 200
    return JsonResponse({"service": settings.SSO_SERVICE_NAME, "ok": not failures, "failed": failures}, status=status)


@never_cache
def admin_login(request, extra_context=None):
    """Send anonymous visitors of any admin to the one login page on A."""
    if request.user.is_authenticated:
        return admin.site.login(request, extra_context)
    next_url = request.GET.get("next") or reverse("admin:index")
    return redirect_to_login(next_url, settings.LOGIN_URL)
