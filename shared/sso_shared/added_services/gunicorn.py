"""gunicorn's settings for a service added with ./stack add-service (``gunicorn -c python:`` this module).

The shared ones (sso_shared.gunicorn_defaults), the layer's application, and the service's prefix as
SCRIPT_NAME; SSO_SERVICE names the service (./stack and the app image set it).
"""

import os

from sso_shared.gunicorn_defaults import *  # noqa: F403
from sso_shared.gunicorn_defaults import script_name_env

wsgi_app = "sso_shared.added_services.wsgi:application"
raw_env = script_name_env(os.environ["SSO_SERVICE"])
