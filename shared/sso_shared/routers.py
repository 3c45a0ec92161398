"""Which app label lives in which database.

Auth, content types, sessions, admin and the shared user app move together:
``auth.Permission`` points at ``ContentType`` and ``admin.LogEntry`` at both the
user and ``ContentType``, so splitting them breaks foreign keys.
https://docs.djangoproject.com/en/5.2/topics/db/multi-db/#limitations-of-multiple-databases

Further apps (a third-party app with a foreign key to the user, such as
``rest_framework.authtoken``) join them through the setting ``SSO_SHARED_APP_LABELS``,
defined once in ``sso_shared.settings`` so both services route alike.
"""

from django.conf import settings

# "default" is the service's own database, so the plain idioms a Django developer
# writes (transaction.atomic(), connection.cursor(), select_for_update(), on_commit(),
# ATOMIC_REQUESTS) act on the service's data. The shared auth/session database has
# its own alias; the router sends the shared apps there. docs/service-code.md
SHARED_DB = "auth"
SERVICE_DB = "default"
# Always shared, whatever the setting says: without them there is no shared login.
SHARED_APP_LABELS = frozenset({"admin", "auth", "contenttypes", "sessions", "sso_shared", "sso_adoption"})


def shared_app_labels() -> frozenset[str]:
    return SHARED_APP_LABELS | frozenset(getattr(settings, "SSO_SHARED_APP_LABELS", ()))


def database_for_label(app_label: str) -> str:
    # Runs for every query: two lookups in small collections, read from settings each
    # time so that override_settings in tests takes effect.
    shared = app_label in SHARED_APP_LABELS or app_label in getattr(settings, "SSO_SHARED_APP_LABELS", ())
    return SHARED_DB if shared else SERVICE_DB


class SharedAuthRouter:
    def db_for_read(self, model, **hints):
        return database_for_label(model._meta.app_label)

    def db_for_write(self, model, **hints):
        return database_for_label(model._meta.app_label)

    def allow_relation(self, obj1, obj2, **hints):
        # A service model may point at the shared user (the column holds its
        # UUID, with no database constraint); any other pair shares a database.
        return {obj1._state.db, obj2._state.db} <= {SHARED_DB, SERVICE_DB}

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == database_for_label(app_label)
