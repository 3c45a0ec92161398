"""The settings of a service added with ./stack add-service: the project's own, with the shared ones on top.

./stack and the app image run such a service with DJANGO_SETTINGS_MODULE set to this module and
SSO_SERVICE to its name; services.toml names the project's own settings module ("settings"), which is
read first, as it is. Then everything sso_shared.settings defines replaces the project's value (one
user model, session store, cookie, secret key, database, login URL for every service), but for the few
settings a project keeps (merge.PROJECT_KEEPS); its apps, middleware and templates are merged with the
shared ones. docs/adding-a-service.md, "What the layer sets".
"""

import os
from importlib import import_module

from django.core.exceptions import ImproperlyConfigured

from sso_shared.added_services.merge import (
    PROJECT_KEEPS,
    merged_apps,
    merged_middleware,
    merged_templates,
    own_user_model_refusal,
)
from sso_shared.environment.services import declared_services

SSO_SERVICE_NAME = os.environ.get("SSO_SERVICE", "")
_declared = declared_services()
if SSO_SERVICE_NAME not in _declared or not _declared[SSO_SERVICE_NAME]["layer"]:
    raise ImproperlyConfigured(
        f"SSO_SERVICE={SSO_SERVICE_NAME!r} names no service added with ./stack add-service "
        "(services.toml, layer = true): ./stack and the app image set it for such a service"
    )

# ------------------------------------------------------------------------------
# The project's own settings, every setting (UPPERCASE name) of its settings module.
# ------------------------------------------------------------------------------
_project = import_module(_declared[SSO_SERVICE_NAME]["settings"])
_own = {name: getattr(_project, name) for name in dir(_project) if name.isupper()}
if refusal := own_user_model_refusal(_own.get("AUTH_USER_MODEL")):
    raise ImproperlyConfigured(f"service {SSO_SERVICE_NAME}: {refusal}")
globals().update(_own)

# ------------------------------------------------------------------------------
# The shared settings on top (sso_shared.settings): the same in every service.
# ------------------------------------------------------------------------------
from sso_shared.settings import *  # noqa: E402, F403 (the shared contract)
from sso_shared.settings import MIDDLEWARE as SHARED_MIDDLEWARE  # noqa: E402
from sso_shared.settings import SHARED_APPS, SSO_SERVICES, env  # noqa: E402
from sso_shared.settings import TEMPLATES as SHARED_TEMPLATES  # noqa: E402

globals().update({name: _own[name] for name in PROJECT_KEEPS if name in _own})

# https://docs.djangoproject.com/en/5.2/ref/settings/#installed-apps
INSTALLED_APPS = merged_apps(SHARED_APPS, list(_own.get("INSTALLED_APPS", [])))
# https://docs.djangoproject.com/en/5.2/ref/settings/#middleware
MIDDLEWARE = merged_middleware(SHARED_MIDDLEWARE, list(_own.get("MIDDLEWARE", [])))
# https://docs.djangoproject.com/en/5.2/ref/settings/#templates
TEMPLATES = merged_templates(
    list(_own.get("TEMPLATES", [])) or SHARED_TEMPLATES,
    SHARED_TEMPLATES[0]["OPTIONS"]["context_processors"],
)

# ------------------------------------------------------------------------------
# URLs: the layer's URLconf, the shared URLs before the project's own (sso_shared.added_services.urls).
# https://docs.djangoproject.com/en/5.2/ref/settings/#root-urlconf
# https://docs.djangoproject.com/en/5.2/ref/settings/#force-script-name
# ------------------------------------------------------------------------------
SSO_PROJECT_URLCONF = _own.get("ROOT_URLCONF")
if not SSO_PROJECT_URLCONF:
    raise ImproperlyConfigured(f"service {SSO_SERVICE_NAME}: its settings name no ROOT_URLCONF")
ROOT_URLCONF = "sso_shared.added_services.urls"
WSGI_APPLICATION = "sso_shared.added_services.wsgi.application"
FORCE_SCRIPT_NAME = SSO_SERVICES[SSO_SERVICE_NAME]["prefix"]

# ------------------------------------------------------------------------------
# Static and media files under /NAME/; nginx serves both folders, which ./stack gives the service
# (MEDIA_ROOT: the one folder it may write to, kept in backups). Absolute, not relative: Django
# prefixes a relative one with the script prefix of the moment it is first read, and under gunicorn
# a project's apps may read it while loading, before any request has set the prefix (Wagtail does).
# https://docs.djangoproject.com/en/5.2/howto/static-files/deployment/
# https://docs.djangoproject.com/en/5.2/ref/settings/#media-root
# ------------------------------------------------------------------------------
STATIC_URL = f"{FORCE_SCRIPT_NAME}/static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(_own.get("STATIC_ROOT", "")))
MEDIA_URL = f"{FORCE_SCRIPT_NAME}/media/"
MEDIA_ROOT = env("MEDIA_ROOT", default="")

# ------------------------------------------------------------------------------
# Wagtail, when the project runs it: its admin's login is the one login (without a loop for a
# logged-in user who may not use that admin), passwords are changed and reset on A only, and its
# admin asks no outside server anything (an air-gapped site: no update check, no Gravatar).
# https://docs.wagtail.org/en/stable/reference/settings.html#wagtailadmin-login-url
# https://docs.wagtail.org/en/stable/reference/settings.html#wagtail-password-management-enabled
# https://docs.wagtail.org/en/stable/reference/settings.html#wagtail-enable-update-check
# https://docs.wagtail.org/en/stable/reference/settings.html#wagtail-gravatar-provider-url
# ------------------------------------------------------------------------------
WAGTAILADMIN_LOGIN_URL = "sso_admin_login"
WAGTAIL_PASSWORD_MANAGEMENT_ENABLED = False
WAGTAIL_PASSWORD_RESET_ENABLED = False
WAGTAIL_ENABLE_UPDATE_CHECK = False
WAGTAIL_GRAVATAR_PROVIDER_URL = None
