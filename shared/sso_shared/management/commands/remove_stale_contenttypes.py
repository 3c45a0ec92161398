"""Django's remove_stale_contenttypes, made safe for a content-type table two services share.

Run from one service, Django's command takes the other service's models for
stale ones (with ``--include-stale-apps``, or when the apps share a label) and
deletes their content types, cascading to permissions, group grants and admin
history. This version never touches app labels another service recorded
(``ServiceFingerprint.app_labels``), and refuses ``--include-stale-apps`` while
a service has not recorded its labels, since its apps cannot be told apart
from removed ones.
"""

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.management.commands import remove_stale_contenttypes as django_command
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError
from django.db import router

from sso_shared.agreement.records import SharedDatabaseUnavailable, other_records, this_service
from sso_shared.environment.services import service_label


class Command(django_command.Command):
    help = "Deletes stale content types, never those of apps another service sharing the database uses."

    def handle(self, **options):
        db = options["database"]
        if not router.allow_migrate_model(db, ContentType):
            return
        others = self.other_services_labels(include_stale_apps=options["include_stale_apps"])
        for label, service in sorted(others.items()):
            if options["verbosity"]:
                self.stdout.write(
                    f"Keeping the content types of app '{label}': they belong to {service}. "
                    f"Run remove_stale_contenttypes from {service} to clean them."
                )
        ContentType.objects.clear_cache()
        candidates = ContentType.objects.using(db).exclude(app_label__in=others).order_by("app_label", "model")
        stale = [
            content_type
            for content_type in candidates
            if (options["include_stale_apps"] or content_type.app_label in apps.app_configs)
            and content_type.model_class() is None
        ]
        if stale and self.confirmed(stale, options["interactive"]):
            for content_type in stale:
                if options["verbosity"] >= 2:
                    self.stdout.write(f"Deleting stale content type '{content_type.app_label} | {content_type.model}'")
                content_type.delete()
        elif stale and options["verbosity"] >= 2:
            self.stdout.write("Stale content types remain.")

    def other_services_labels(self, *, include_stale_apps: bool) -> dict[str, str]:
        """{app label: service} of every other service's recorded app labels."""
        try:
            others = other_records()
        except SharedDatabaseUnavailable as error:
            raise CommandError(f"Cannot tell this service's content types from the others': {error}.") from None
        recorded = {record.service for record in others}
        unrecorded = [
            service_label(name)
            for name in settings.SSO_SERVICES
            if service_label(name) not in recorded and service_label(name) != this_service()
        ]
        if include_stale_apps and unrecorded:
            raise CommandError(
                f"Refusing --include-stale-apps: {', '.join(unrecorded)} has not recorded its app labels in the "
                "shared database, so its content types look stale from here and would be deleted with their "
                "permissions. Start it (or run its `manage.py sso_register`) first."
            )
        return {label: record.service for record in others for label in record.app_labels}

    def confirmed(self, stale, interactive: bool) -> bool:
        if not interactive:
            return True
        self.stdout.write("These content types are stale; deleting them also deletes what depends on them:")
        for content_type in stale:
            self.stdout.write(f"    - Content type for {content_type.app_label}.{content_type.model}")
            using = router.db_for_write(ContentType)
            collector = django_command.NoFastDeleteCollector(using=using, origin=content_type)
            collector.collect([content_type])
            for model, objects in collector.data.items():
                if objects != {content_type}:
                    self.stdout.write(f"    - {len(objects)} {model._meta.label} object(s)")
        return input("Type 'yes' to continue, or 'no' to cancel: ") == "yes"
