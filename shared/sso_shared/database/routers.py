"""Which app's tables are created in which schema of the one database.

A service reaches everything through one connection, the "default" alias: its
``search_path`` is the service's own schema, then the shared one. So service
models and shared models (the user, groups, permissions, content types,
sessions) are read and written in one transaction, with real foreign keys
between them, and ``select_related`` to the user is one query.

Where tables are *created* is decided here. Auth, content types, sessions,
admin and the shared user app move together (``auth.Permission`` points at
``ContentType``, ``admin.LogEntry`` at both the user and ``ContentType``); their
migrations run on the alias "shared" (SHARED_MIGRATIONS_DB), whose ``search_path`` is the shared schema
alone and whose login is the migration role (sso_migrate). Every other app is
migrated on "default", so its tables land in the service's schema.
https://docs.djangoproject.com/en/5.2/topics/db/multi-db/#automatic-database-routing

Further apps join the shared ones through the setting ``SSO_SHARED_APP_LABELS``,
defined once in ``sso_shared.settings``; an app installed in one service only
stays in that service's schema (docs/service-code.md).
"""

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.db.migrations.state import StateApps

# The one connection of a service at run time: its own rows and the shared ones alike.
SERVICE_DB = DEFAULT_DB_ALIAS
# Where the shared rows are read and written: that same connection (the name says what
# code means when it writes `.using(SHARED_DB)`; both are "default").
SHARED_DB = SERVICE_DB
# Only for migrating the shared apps (and reading which of their migrations are applied):
# the same database, the shared schema alone on its search_path, the migration role's login.
SHARED_MIGRATIONS_DB = "shared"
# The schema of the shared tables; each service's own tables are in a schema of its own.
SHARED_SCHEMA = "shared"
# Always shared, whatever the setting says: without them there is no shared login.
SHARED_APP_LABELS = frozenset({"admin", "auth", "contenttypes", "sessions", "sso_shared", "sso_adoption"})


def upkeep_db() -> str:
    """Where the shared tables' upkeep runs (pruning, the migrate step's grants): the alias "shared" when
    it logs in as a role of its own (AUTH_DB_USER: the migration role, or the maintenance role of
    housekeeping), else the one connection (a service's own role, which may not prune: it is told so)."""
    shared, service = settings.DATABASES[SHARED_MIGRATIONS_DB], settings.DATABASES[SERVICE_DB]
    return SHARED_MIGRATIONS_DB if shared["USER"] != service["USER"] else SERVICE_DB


def shared_app_labels() -> frozenset[str]:
    return SHARED_APP_LABELS | frozenset(getattr(settings, "SSO_SHARED_APP_LABELS", ()))


def is_shared_label(app_label: str) -> bool:
    # Read from settings each time so that override_settings in tests takes effect.
    return app_label in SHARED_APP_LABELS or app_label in getattr(settings, "SSO_SHARED_APP_LABELS", ())


def migrations_alias(app_label: str) -> str:
    """The alias an app's migrations run on: SHARED_MIGRATIONS_DB for the shared apps, else SERVICE_DB."""
    return SHARED_MIGRATIONS_DB if is_shared_label(app_label) else SERVICE_DB


class SharedAuthRouter:
    # Reads and writes: None lets Django use "default", the one connection, for every model.

    def allow_relation(self, obj1, obj2, **hints):
        # Both ends are in one database: every relation is a real one.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if db == migrations_alias(app_label):
            return True
        # Rows of a shared model written through a service's connection, which sees the shared
        # tables: create_permissions() or create_contenttypes() called by a service app's data
        # migration (as Wagtail's do), dumpdata, loaddata, flush. They hand the router the model
        # itself. A migration's operations hand it a historical model (from StateApps): creating
        # or altering a shared table through "default" is never allowed.
        model = hints.get("model")
        return db == SERVICE_DB and model is not None and not isinstance(model._meta.apps, StateApps)
