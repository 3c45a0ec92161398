from sso_shared.gunicorn_defaults import *  # noqa: F403
from sso_shared.gunicorn_defaults import script_name_env

wsgi_app = "config.wsgi:application"
raw_env = script_name_env("a")
