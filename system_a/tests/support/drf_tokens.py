"""The service's settings plus two third-party apps from PyPI, installed in this service only.

Django REST framework's token authentication (a Token row per user) and django-guardian
(object permissions: rows pointing at the user, groups, permissions and content types).
Their tables land in this service's schema, with real foreign keys into the shared one;
the other services never install them.
"""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework", "rest_framework.authtoken", "guardian"]
# The service's own URLs plus a tiny API view answering who the token belongs to.
ROOT_URLCONF = "drf_token_urls"
# django-guardian would otherwise create a user named AnonymousUser in the shared table.
# https://django-guardian.readthedocs.io/en/stable/configuration.html
ANONYMOUS_USER_NAME = None
