from django.conf import settings


def service(request):
    """Which service is rendering, the others to link to, and the "Your sessions" and "Two-factor" pages (on A)."""
    name = settings.SSO_SERVICE_NAME
    return {
        "sso_sessions_url": settings.SSO_SESSIONS_URL,
        "sso_two_factor_url": settings.SSO_TWO_FACTOR_URL,
        "sso_service": {"name": name, **settings.SSO_SERVICES[name]},
        "sso_other_services": [
            {"name": other, **details} for other, details in settings.SSO_SERVICES.items() if other != name
        ],
    }
