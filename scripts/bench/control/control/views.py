from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@require_GET
@never_cache
def whoami(request):
    """The same answer as sso_shared.accounts.views.whoami."""
    user = request.user
    return JsonResponse(
        {
            "service": settings.SSO_SERVICE_NAME,
            "authenticated": user.is_authenticated,
            "username": user.get_username() if user.is_authenticated else None,
        }
    )
