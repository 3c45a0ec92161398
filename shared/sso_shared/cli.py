"""manage.py's body: a configuration error is one clear line, not a traceback."""

import os
import sys


def run_manage(settings_module: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    from sso_shared.environment.services import ServicesDeclarationError

    try:
        execute_from_command_line(sys.argv)
    except (ImproperlyConfigured, ServicesDeclarationError) as error:
        sys.exit(f"error: {error}")
