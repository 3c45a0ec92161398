"""A minimal service for testing the shared package on its own."""

from sso_shared.settings import *  # noqa: F403
from sso_shared.settings import SHARED_APPS

SSO_SERVICE_NAME = "a"
INSTALLED_APPS = SHARED_APPS
ROOT_URLCONF = "tests.urls"
STATIC_URL = "static/"
