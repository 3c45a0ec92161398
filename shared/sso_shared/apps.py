from django.apps import AppConfig, apps
from django.core.exceptions import ImproperlyConfigured
from django.db.models.signals import post_migrate


class SsoSharedConfig(AppConfig):
    name = "sso_shared"
    label = "sso_shared"
    verbose_name = "Shared sign-on"

    def ready(self):
        if not apps.is_installed("axes"):
            raise ImproperlyConfigured(
                "INSTALLED_APPS lacks 'axes' (django-axes, the login lockout both services share): "
                "start INSTALLED_APPS from sso_shared.settings.SHARED_APPS, which lists it. docs/login-protection.md"
            )
        labels = [config.label for config in apps.get_app_configs()]
        if "auth" in labels and labels.index(self.label) > labels.index("auth"):
            raise ImproperlyConfigured(
                "INSTALLED_APPS lists 'django.contrib.auth' before 'sso_shared': start INSTALLED_APPS from "
                "sso_shared.settings.SHARED_APPS, whose order its templates, commands and login receiver need."
            )
        # Registers the system checks, the default service access of new users, the receivers of the audit
        # trail, of the session store and of the lockout, and the one connection health check per request.
        from sso_shared.access import service_access

        # Each declared service's access permission and group, after every migrate (a service declared later).
        post_migrate.connect(
            service_access.provide_access_groups, sender=self, dispatch_uid="sso_shared.provide_access_groups"
        )
        from sso_shared.agreement import checks  # noqa: F401
        from sso_shared.login_protection import lockout  # noqa: F401
        from sso_shared.operations import audit  # noqa: F401
        from sso_shared.sessions import store  # noqa: F401
