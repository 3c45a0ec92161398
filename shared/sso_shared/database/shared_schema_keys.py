"""Foreign keys out of the shared schema: the one kind the schema layout cannot hold.

Every service reaches the shared schema, so a table there may point only at
tables there too. A shared model (an app in ``SSO_SHARED_APP_LABELS``) with a
database-level foreign key to a model of one service's own app would need a
constraint into that service's schema: the migration role may not create it,
and every other service would hold rows pointing at a table it cannot see.
Found here from the models alone, before anything is migrated.

The other direction is the ordinary case and needs nothing: a service's model
(or a third-party app installed in one service) points at the user, a group, a
permission or a content type with a real constraint (docs/service-code.md).
This check replaces sso_shared.E004 of the three-database layout, which refused
exactly those.
"""

from dataclasses import dataclass

from django.apps import apps
from django.core import checks
from django.db import models

from sso_shared.database.routers import is_shared_label

ERROR_ID = "sso_shared.E006"


def is_shared(model: type[models.Model]) -> bool:
    return is_shared_label(model._meta.app_label)


@dataclass(frozen=True)
class KeyOutOfSharedSchema:
    field: models.Field  # a foreign key or one-to-one field, or a many-to-many field with its own table
    target: type[models.Model]

    @property
    def source(self) -> type[models.Model]:
        return self.field.model

    def as_check_message(self) -> checks.Error:
        source, target = self.source._meta, self.target._meta
        has = f"the table of its many-to-many field '{self.field.name}' has" if self.field.many_to_many else "has"
        return checks.Error(
            f"Model {source.label} of app '{source.app_label}' ({source.app_config.name}) lives in the shared "
            f"schema (SSO_SHARED_APP_LABELS), and {has} a database-level foreign key to {target.label} of "
            f"'{target.app_label}', an app of this service only, in this service's schema. The shared schema "
            "may point only at shared tables: every service reads it.",
            hint=(
                f"Install '{source.app_label}' in the one service that needs it, and take it out of "
                f"SSO_SHARED_APP_LABELS (its tables then live in that service's schema, with real foreign keys "
                f"to the shared user); or share '{target.app_label}' too. docs/architecture.md, 'Third-party apps'."
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


def keys_out_of_shared_schema(all_models=None) -> list[KeyOutOfSharedSchema]:
    found = []
    for model in all_models if all_models is not None else apps.get_models():
        if not model._meta.managed or model._meta.proxy or not is_shared(model):
            continue  # migrate creates no shared table for it
        for field, target in stored_fields(model):
            # An unresolved target (a model that is not installed) is Django's own check's to report.
            if isinstance(target, type) and not is_shared(target):
                found.append(KeyOutOfSharedSchema(field, target))
    return found
