"""What a backup records about the code, and what a restore compares it with (./stack backup/restore).

Prints one JSON object: this service's name, the Django and sso_shared versions, every
migration its code knows (from the migration files, without touching a database), and a
fingerprint of SECRET_KEY and of each SECRET_KEY_FALLBACKS entry: an HMAC, never the key,
so a restore can tell whether the sessions in a backup will still verify.
"""

import hashlib
import hmac
import json
from importlib.metadata import version

import django
from django.conf import settings
from django.core.management import BaseCommand
from django.db.migrations.loader import MigrationLoader

# The fixed message the key signs: a fingerprint says only "same key or not".
FINGERPRINT_MESSAGE = b"sso-stack backup: SECRET_KEY fingerprint v1"


def secret_key_fingerprint(key: str) -> str:
    return hmac.new(key.encode(), FINGERPRINT_MESSAGE, hashlib.sha256).hexdigest()


def known_migrations() -> list[str]:
    """Every migration of the installed apps' files ("app.name"), and those a squashed one replaces."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    names = set()
    for (app, name), migration in loader.disk_migrations.items():
        names.add(f"{app}.{name}")
        names.update(f"{replaced_app}.{replaced}" for replaced_app, replaced in migration.replaces)
    return sorted(names)


class Command(BaseCommand):
    help = "Print, as JSON, the versions, known migrations and SECRET_KEY fingerprint a backup records."
    requires_system_checks = []

    def handle(self, *args, **options):
        info = {
            "service": settings.SSO_SERVICE_NAME,
            "versions": {"django": django.get_version(), "sso_shared": version("sso-shared")},
            "known_migrations": known_migrations(),
            "secret_key_fingerprint": secret_key_fingerprint(settings.SECRET_KEY),
            "fallback_fingerprints": [secret_key_fingerprint(key) for key in settings.SECRET_KEY_FALLBACKS],
        }
        self.stdout.write(json.dumps(info, indent=1))
