"""Django REST framework's token authentication, shared by both services (docs/architecture.md "Third-party apps").

Both services run with this module, so adding the label here stands for the one
edit of SSO_SHARED_APP_LABELS in sso_shared/settings.py that a site makes.
"""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS
from sso_shared.settings import SSO_SHARED_APP_LABELS

INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework", "rest_framework.authtoken"]
ROOT_URLCONF = "drf_token_urls"
SSO_SHARED_APP_LABELS = [*SSO_SHARED_APP_LABELS, "authtoken"]
