"""The control of ./stack bench: System B's review app as one standalone Django project.

Django's stock project settings (``startproject``), one database, no router, no shared
login: what B would cost on its own. It differs from stock only where the comparison
needs the same conditions as the real stack (docs/performance.md):

* persistent connections with health checks, as both services use them
  (https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections);
* the same templates (sso_shared's base page and login form) and their context, and the
  same URLs (/b/, /b/whoami, the login form at /a/accounts/login/), so the pages match;
* no admin: B's admin module builds on sso_shared's, and no measured page uses it.

Settings come from the environment ./stack bench gives the control's gunicorn.
"""

import os
from pathlib import Path

import sso_shared

BASE_DIR = Path(__file__).resolve().parent.parent
SSO_SHARED_TEMPLATES = Path(sso_shared.__file__).resolve().parent / "templates"

# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
SECRET_KEY = os.environ["CONTROL_SECRET_KEY"]
DEBUG = False
# https://docs.djangoproject.com/en/5.2/ref/settings/#allowed-hosts
ALLOWED_HOSTS = os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

# https://docs.djangoproject.com/en/5.2/ref/settings/#installed-apps
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "review",
]
# https://docs.djangoproject.com/en/5.2/ref/settings/#middleware
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "control.urls"
WSGI_APPLICATION = "control.wsgi.application"
# https://docs.djangoproject.com/en/5.2/ref/settings/#templates
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [SSO_SHARED_TEMPLATES],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # Reads only the two settings below: the page names its service like B's does.
                "sso_shared.accounts.context_processors.service",
            ],
        },
    },
]
SSO_SERVICES = {
    "a": {"title": "System A · Intake", "url": "/a/", "prefix": "/a"},
    "b": {"title": "System B · Review", "url": "/b/", "prefix": "/b"},
}
SSO_SERVICE_NAME = "b"
# The header's link to "Your sessions", as B renders it (the page itself is A's; not measured here).
SSO_SESSIONS_URL = "/a/accounts/sessions/"
# And its link to "Two-factor", as B renders it.
SSO_TWO_FACTOR_URL = "/a/accounts/two-factor/"

# https://docs.djangoproject.com/en/5.2/ref/settings/#databases
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["CONTROL_DB_NAME"],
        "USER": os.environ["CONTROL_DB_USER"],
        "PASSWORD": os.environ["CONTROL_DB_PASSWORD"],
        "HOST": os.environ.get("DB_HOST", "127.0.0.1"),
        "PORT": os.environ["DB_PORT"],
        "CONN_MAX_AGE": int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        "CONN_HEALTH_CHECKS": True,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# https://docs.djangoproject.com/en/5.2/ref/settings/#auth-password-validators
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# https://docs.djangoproject.com/en/5.2/ref/settings/#login-url
LOGIN_URL = "/a/accounts/login/"
LOGIN_REDIRECT_URL = "/b/"
LOGOUT_REDIRECT_URL = LOGIN_URL

# https://docs.djangoproject.com/en/5.2/topics/i18n/
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# https://docs.djangoproject.com/en/5.2/howto/static-files/
STATIC_URL = "/b/static/"
