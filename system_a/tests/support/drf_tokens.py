"""The service's settings plus Django REST framework's token authentication, not shared.

What a developer writes first: ``rest_framework.authtoken`` added to one service's
INSTALLED_APPS only. Its Token table would land in the service's own database with
a foreign key to the user in the shared one; the check sso_shared.E004 stops that.
"""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework", "rest_framework.authtoken"]
# The service's own URLs plus a tiny API view answering who the token belongs to.
ROOT_URLCONF = "drf_token_urls"
