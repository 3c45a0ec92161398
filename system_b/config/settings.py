"""System B: review. Everything shared comes from sso_shared.settings."""

from pathlib import Path

from sso_shared.settings import *  # noqa: F403 (the shared contract)
from sso_shared.settings import SHARED_APPS, SSO_SERVICES, env

BASE_DIR = Path(__file__).resolve().parent.parent

# ------------------------------------------------------------------------------
# This service
# ------------------------------------------------------------------------------
SSO_SERVICE_NAME = "b"
# https://docs.djangoproject.com/en/5.2/ref/settings/#installed-apps
INSTALLED_APPS = [*SHARED_APPS, "review"]
# https://docs.djangoproject.com/en/5.2/ref/settings/#root-urlconf
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
# The prefix nginx serves this service under; also right in management commands.
# https://docs.djangoproject.com/en/5.2/ref/settings/#force-script-name
FORCE_SCRIPT_NAME = SSO_SERVICES[SSO_SERVICE_NAME]["prefix"]

# ------------------------------------------------------------------------------
# Static files: relative URL, so it gets the /b prefix; nginx serves STATIC_ROOT.
# https://docs.djangoproject.com/en/5.2/howto/static-files/deployment/
# ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
