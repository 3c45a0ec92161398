from django.apps import AppConfig


class SsoSharedConfig(AppConfig):
    name = "sso_shared"
    label = "sso_shared"
    verbose_name = "Shared sign-on"

    def ready(self):
        # Registers the system checks, the default service access of new users, and the receivers
        # of the audit trail and of the session store.
        from . import access, audit, checks, sessions  # noqa: F401
