from django.apps import AppConfig


class SsoSharedConfig(AppConfig):
    name = "sso_shared"
    label = "sso_shared"
    verbose_name = "Shared sign-on"

    def ready(self):
        # Registers the system checks and the default service access of new users.
        from . import access, checks  # noqa: F401
