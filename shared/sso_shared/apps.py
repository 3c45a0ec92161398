from django.apps import AppConfig


class SsoSharedConfig(AppConfig):
    name = "sso_shared"
    label = "sso_shared"
    verbose_name = "Shared sign-on"

    def ready(self):
        # Registers the system checks, the default service access of new users and the audit trail's receivers.
        from . import access, audit, checks  # noqa: F401
