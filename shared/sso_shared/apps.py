from django.apps import AppConfig


class SsoSharedConfig(AppConfig):
    name = "sso_shared"
    label = "sso_shared"
    verbose_name = "Shared sign-on"

    def ready(self):
        # Registers the system checks, the default service access of new users, the audit trail's receivers
        # and the one connection health check per request.
        from . import access, audit, checks, health_checks  # noqa: F401
