"""Foreign keys that migrate cannot create: from a table in one database to a table in the other.

PostgreSQL has no foreign keys across databases. A model in a service's own
database with a database-level foreign key to the shared user (a third-party
app such as ``rest_framework.authtoken``) makes ``migrate`` fail halfway with
``relation "sso_user" does not exist``, after the shared database was already
migrated. Found here from the models alone, before anything is migrated.
https://docs.djangoproject.com/en/5.2/topics/db/multi-db/#limitations-of-multiple-databases
"""

from dataclasses import dataclass

from django.apps import apps
from django.core import checks
from django.db import models

from .routers import SHARED_DB, database_for_label

ERROR_ID = "sso_shared.E004"


def is_shared(model: type[models.Model]) -> bool:
    return database_for_label(model._meta.app_label) == SHARED_DB


def where(model: type[models.Model]) -> str:
    return "the shared database" if is_shared(model) else "this service's own database"


@dataclass(frozen=True)
class CrossDatabaseKey:
    field: models.Field  # a foreign key or one-to-one field, or a many-to-many field with its own table
    target: type[models.Model]

    @property
    def source(self) -> type[models.Model]:
        return self.field.model

    @property
    def app_to_share(self):
        """The end still in the service database: sharing its app puts both ends in the shared one."""
        return (self.target if is_shared(self.source) else self.source)._meta.app_config

    def as_check_message(self) -> checks.Error:
        source, target, app = self.source._meta, self.target._meta, self.app_to_share
        # Django prints the field in front of the message ("authtoken.Token.user: ...").
        has = f"the table of its many-to-many field '{self.field.name}' has" if self.field.many_to_many else "has"
        return checks.Error(
            f"Model {source.label} of app '{source.app_label}' ({source.app_config.name}) lives in "
            f"{where(self.source)}, and {has} a database-level foreign key to {target.label} in "
            f"{where(self.target)}. PostgreSQL has no foreign keys across databases: migrate fails with "
            f'relation "{target.db_table}" does not exist.',
            hint=(
                f"Either share the app '{app.label}' ({app.name}) in both services: add \"{app.label}\" to "
                "SSO_SHARED_APP_LABELS in sso_shared/settings.py, so its tables live in the shared database. "
                "Or, if the model is your own, declare the field with db_constraint=False and decide what "
                "happens to its rows when the row it points at is deleted. docs/architecture.md, 'Third-party apps'."
            ),
            obj=self.field,
            id=ERROR_ID,
        )


def stored_fields(model: type[models.Model]):
    """Relation fields that become a column with a constraint, or a many-to-many table Django creates."""
    for field in model._meta.local_fields:
        if field.is_relation and field.db_constraint:
            yield field, field.related_model
    for field in model._meta.local_many_to_many:
        # An explicit through model is a model of its own, checked by its own foreign keys.
        if field.remote_field.through._meta.auto_created and field.remote_field.db_constraint:
            yield field, field.related_model


def cross_database_keys(all_models=None) -> list[CrossDatabaseKey]:
    found = []
    for model in all_models if all_models is not None else apps.get_models():
        if not model._meta.managed or model._meta.proxy:
            continue  # migrate creates no table for it
        here = database_for_label(model._meta.app_label)
        for field, target in stored_fields(model):
            # An unresolved target (a model that is not installed) is Django's own check's to report.
            if isinstance(target, type) and database_for_label(target._meta.app_label) != here:
                found.append(CrossDatabaseKey(field, target))
    return found
