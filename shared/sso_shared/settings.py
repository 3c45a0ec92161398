"""Settings both services must agree on, defined once.

Each service's settings module starts with ``from sso_shared.settings import *``
and then adds only what is its own: apps, URLs, its name and prefix.
Defining any of these again in a service is a defect: ``sso_shared.agreement.checks``
and the fingerprint comparison report it.
"""

from sso_shared.database.aliases import databases
from sso_shared.database.routers import SERVICE_DB, SHARED_MIGRATIONS_DB
from sso_shared.environment.services import declared_services
from sso_shared.environment.values import (
    Csv,
    env,
    optional_secret,
    positive_int,
    second_factor_requirement,
    secret,
    secret_list,
)

# ------------------------------------------------------------------------------
# Secret key: one key for both services, from the environment only.
# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key-fallbacks
# ------------------------------------------------------------------------------
SECRET_KEY = secret("SECRET_KEY")
SECRET_KEY_FALLBACKS = secret_list("SECRET_KEY_FALLBACKS")

# ------------------------------------------------------------------------------
# Databases: "default" is the service's own database, "auth" the shared
# auth/session database (see sso_shared.database.routers). Commands that act on users or
# sessions (createsuperuser, changepassword, dumpdata, loaddata,
# remove_stale_contenttypes) find the shared database without --database.
# https://docs.djangoproject.com/en/5.2/ref/settings/#databases
# https://docs.djangoproject.com/en/5.2/topics/db/multi-db/
# ------------------------------------------------------------------------------
DATABASES = databases(shared=SHARED_MIGRATIONS_DB, service=SERVICE_DB)
DATABASE_ROUTERS = ["sso_shared.database.routers.SharedAuthRouter"]
# App labels whose tables live in the shared database; every other app's live in the
# service's own. Add a third-party app here (e.g. "authtoken" for rest_framework.authtoken),
# never in one service's settings, in the change that installs it in both:
# docs/architecture.md, "Third-party apps". The first six are always shared (sso_shared.database.routers).
# https://docs.djangoproject.com/en/5.2/topics/db/multi-db/#automatic-database-routing
# "axes": the login lockout (below), so a lock made on one service holds on every one.
# "otp_totp", "otp_static", "django_otp_webauthn": each user's second factors (below), which the
# login on A checks and which both admins reset.
SSO_SHARED_APP_LABELS = [
    *("admin", "auth", "contenttypes", "sessions", "sso_shared", "sso_adoption", "axes"),
    *("otp_totp", "otp_static", "django_otp_webauthn"),
]
# https://docs.djangoproject.com/en/5.2/ref/settings/#default-auto-field
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ------------------------------------------------------------------------------
# Users and authentication
# https://docs.djangoproject.com/en/5.2/ref/settings/#auth-user-model
# https://docs.djangoproject.com/en/5.2/ref/settings/#authentication-backends
# https://docs.djangoproject.com/en/5.2/ref/settings/#password-hashers
# ------------------------------------------------------------------------------
AUTH_USER_MODEL = "sso_shared.User"
# The lockout backend first: it refuses a locked login before any password is checked (below).
AUTHENTICATION_BACKENDS = [
    "sso_shared.login_protection.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Django's hashers (same algorithms, names and parameters: stored hashes are unchanged), each hash
# holding one of SSO_PASSWORD_CHECKS_AT_ONCE slots (sso_shared.login_protection.password_checks, below).
PASSWORD_HASHERS = [
    "sso_shared.login_protection.password_checks.PBKDF2PasswordHasher",
    "sso_shared.login_protection.password_checks.PBKDF2SHA1PasswordHasher",
    "sso_shared.login_protection.password_checks.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The login and password pages live on A; B sends people there.
# https://docs.djangoproject.com/en/5.2/ref/settings/#login-url
LOGIN_URL = "/a/accounts/login/"
LOGOUT_REDIRECT_URL = LOGIN_URL
# "Your sessions" (sso_shared.sessions.your_sessions), also on A, linked from every service's header.
SSO_SESSIONS_URL = "/a/accounts/sessions/"
# The "Two-factor" page (sso_shared.second_factor.page), on A, linked from every service's header.
SSO_TWO_FACTOR_URL = "/a/accounts/two-factor/"
# Where a one-time password reset link leads (sso_shared.accounts.recovery), on A, whichever admin made it.
SSO_PASSWORD_RESET_URL = "/a/accounts/reset/"  # noqa: S105 (a URL, not a password)
# Where a temporary password is changed (sso_shared.accounts.requirements), on A.
SSO_PASSWORD_CHANGE_URL = "/a/accounts/password_change/"  # noqa: S105 (a URL, not a password)

# ------------------------------------------------------------------------------
# The second factor (docs/login-protection.md, "Second factor"): TOTP apps and single-use
# recovery codes (django-otp), passkeys (django-otp-webauthn). Whoever has one is asked for it
# on a second step of the login on A; the session is logged in only after both steps.
# https://django-otp-official.readthedocs.io/en/stable/overview.html#settings
# https://django-otp-webauthn.readthedocs.io/en/latest/reference/settings.html
# ------------------------------------------------------------------------------
# Who must have one: "optional" (nobody), "staff" (staff and superusers) or "everyone". Such a
# user without one is sent to set it up, on every service, before anything else.
SSO_SECOND_FACTOR = second_factor_requirement("SSO_SECOND_FACTOR", default="optional")
# How authenticator apps and passkey prompts name this site.
SSO_SITE_NAME = env("SSO_SITE_NAME", default="") or "One login"
OTP_TOTP_ISSUER = SSO_SITE_NAME
# The admins never show a TOTP key or a recovery code (they reset a user's second factor instead).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Passkeys: the relying party is the host name the browser used (one of SERVER_NAMES, as Django
# checks it against ALLOWED_HOSTS) and the origin its scheme, host and port (sso_shared.second_factor.passkeys).
# An IP address cannot be a relying party: passkeys need the site opened by a name.
OTP_WEBAUTHN_HELPER_CLASS = "sso_shared.second_factor.passkeys.PasskeyHelper"
OTP_WEBAUTHN_RP_ID_CALLABLE = "sso_shared.second_factor.passkeys.relying_party_id"
OTP_WEBAUTHN_RP_NAME = SSO_SITE_NAME
# Its check wants OTP_WEBAUTHN_ALLOWED_ORIGINS fixed; PasskeyHelper derives the origin from the request.
# https://docs.djangoproject.com/en/5.2/ref/settings/#silenced-system-checks
SILENCED_SYSTEM_CHECKS = ["otp_webauthn.E030"]
# A passkey is a second factor here, after the password: never a login on its own.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False

# ------------------------------------------------------------------------------
# Login lockout (django-axes): failed logins are counted per username and client address
# (the address nginx saw), in the shared database, so a lock made on one service holds on
# every one. The policy, its settings and how to lift a lock: docs/login-protection.md.
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
# https://django-axes.readthedocs.io/en/latest/5_customization.html
# ------------------------------------------------------------------------------
# This many failed logins in a row, each within the cool-off of the one before, lock the pair.
AXES_FAILURE_LIMIT = positive_int("LOGIN_FAILURE_LIMIT", default=5)
# The first lock lasts this long after the last attempt; it doubles for every further
# AXES_FAILURE_LIMIT failures (attempts while locked count), up to the longest.
SSO_LOCKOUT_MINUTES = positive_int("LOGIN_LOCKOUT_MINUTES", default=15)
SSO_LOCKOUT_MAX_MINUTES = max(positive_int("LOGIN_LOCKOUT_MAX_MINUTES", default=24 * 60), SSO_LOCKOUT_MINUTES)
AXES_COOLOFF_TIME = "sso_shared.login_protection.lockout.cool_off"
# A lock's end is kept with each record, so the cool-off may differ from one pair to the next.
AXES_USE_ATTEMPT_EXPIRATION = True
# Username and address together: someone guessing from one address never locks the same
# user out at another.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Axes' database handler, asking nothing for an address with no failures (sso_shared.login_protection.lockout).
AXES_HANDLER = "sso_shared.login_protection.lockout.LockoutHandler"
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
# The one function that says who the client is (the audit trail uses it too).
AXES_CLIENT_IP_CALLABLE = "sso_shared.operations.audit.client_address"
AXES_LOCKOUT_CALLABLE = "sso_shared.login_protection.lockout.lockout_response"
# The audit trail (sso_audit) records logins and failures; axes keeps only what locks.
AXES_DISABLE_ACCESS_LOG = True
AXES_ENABLE_ACCESS_FAILURE_LOG = False
# Its admin pages for the logs are left out: sso_shared.login_protection.lockout_admin shows the locks.
AXES_ENABLE_ADMIN = False
# Never kept with a record: besides axes' own, the second step's code (a wrong code is a near miss).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code"]

# ------------------------------------------------------------------------------
# Account recovery (sso_shared.accounts.recovery; docs/login-protection.md, "Recovery"). With EMAIL_HOST
# (the site's internal SMTP relay) a forgotten password is reset by mail from the login page;
# without, an administrator hands over a one-time link. Links expire after PASSWORD_RESET_HOURS.
# https://docs.djangoproject.com/en/5.2/topics/email/#smtp-backend
# https://docs.djangoproject.com/en/5.2/ref/settings/#password-reset-timeout
# ------------------------------------------------------------------------------
EMAIL_HOST = env("EMAIL_HOST", default="")
SSO_PASSWORD_RESET_BY_MAIL = bool(EMAIL_HOST)
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.dummy.EmailBackend"  # no mail: nothing is ever sent
)
EMAIL_PORT = positive_int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = optional_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env("EMAIL_USE_TLS", cast=bool, default=False)
EMAIL_USE_SSL = env("EMAIL_USE_SSL", cast=bool, default=False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="") or "sso@localhost"
PASSWORD_RESET_TIMEOUT = positive_int("PASSWORD_RESET_HOURS", default=24) * 60 * 60

# The username as Django's login form cleans it (stripped, NFKC), so "carol " counts as "carol".
AXES_USERNAME_CALLABLE = "sso_shared.login_protection.lockout.login_username"
# An address is locked for every username once this many failed logins (any usernames, and
# logins refused while every password check was busy) still count there: a flood of random
# usernames from one address stops costing password checks.
SSO_ADDRESS_FAILURE_LIMIT = positive_int("LOGIN_ADDRESS_FAILURE_LIMIT", default=20)

# ------------------------------------------------------------------------------
# The cost of password checks, bounded on the whole site (sso_shared.login_protection.password_checks): at most
# this many run at once, across every service and replica. A check beyond it waits in line for
# at most SSO_PASSWORD_CHECK_WAIT_SECONDS, fewer failed logins at its address first; without a
# place in line (or time) it is answered 429 with Retry-After. docs/login-protection.md, "Under a flood".
# https://docs.djangoproject.com/en/5.2/topics/auth/passwords/#password-upgrading
# ------------------------------------------------------------------------------
SSO_PASSWORD_CHECKS_AT_ONCE = positive_int("LOGIN_PASSWORD_CHECKS_AT_ONCE", default=1)
# One more, kept for addresses in good standing (fewer wrong passwords than LOGIN_FAILURE_LIMIT, refused at
# most once): a flood's addresses, which fail or are refused twice a second, hold it only in their first
# second or so, never the check a real user waits for.
SSO_PASSWORD_CHECKS_KEPT_FOR_GOOD_STANDING = 1
# The longest a check waits in line; one hash takes about 0.25 s on a quiet core, seconds on a busy one.
SSO_PASSWORD_CHECK_WAIT_SECONDS = 5.0

# ------------------------------------------------------------------------------
# Sessions: database-backed, one cookie for the whole domain. Django's db engine
# with the user in a column of its own (table sso_session), so one user's
# sessions are found without decoding them all.
# https://docs.djangoproject.com/en/5.2/topics/http/sessions/
# https://docs.djangoproject.com/en/5.2/topics/http/sessions/#extending-database-backed-session-engines
# https://docs.djangoproject.com/en/5.2/ref/settings/#sessions
# ------------------------------------------------------------------------------
SESSION_ENGINE = "sso_shared.sessions.store"
SESSION_SERIALIZER = "django.contrib.sessions.serializers.JSONSerializer"
SESSION_COOKIE_NAME = "sso_sessionid"
SESSION_COOKIE_PATH = "/"
SESSION_COOKIE_DOMAIN = None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env("SESSION_COOKIE_AGE", cast=int, default=60 * 60 * 12)
# Flash messages ride in the session, so a message from A never renders on B by cookie accident.
# https://docs.djangoproject.com/en/5.2/ref/settings/#message-storage
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
# Session cookies of adopted projects (docs/adopting.md), NAME or NAME:PATH: a browser holding one and
# no sso_sessionid is logged in with the session `./stack adopt` carried over, once.
SSO_LEGACY_SESSION_COOKIES = env("SSO_LEGACY_SESSION_COOKIES", cast=Csv(), default="sessionid")
# The audit trail (sso_shared.operations.audit) keeps events this many days; `sso_audit --prune` deletes older ones.
SSO_AUDIT_RETENTION_DAYS = env("SSO_AUDIT_RETENTION_DAYS", cast=int, default=365)

# ------------------------------------------------------------------------------
# HTTPS and the proxy. nginx always overwrites X-Forwarded-Proto, so trusting it is safe.
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-proxy-ssl-header
# https://docs.djangoproject.com/en/5.2/ref/settings/#csrf-trusted-origins
# ------------------------------------------------------------------------------
SECURE_COOKIES = env("SECURE_COOKIES", cast=bool, default=False)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_NAME = "sso_csrftoken"
CSRF_COOKIE_PATH = "/"
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS", cast=Csv(), default="")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = False
ALLOWED_HOSTS = env("ALLOWED_HOSTS", cast=Csv(), default="127.0.0.1,localhost")
DEBUG = env("DJANGO_DEBUG", cast=bool, default=False)

# ------------------------------------------------------------------------------
# The services sharing this login; each service sets SSO_SERVICE_NAME.
# ------------------------------------------------------------------------------
SSO_SERVICES = declared_services()
# Services a newly created user may use (sso_shared.access.service_access): those whose access rule is
# "everyone" (services.toml); superusers may use all.
SSO_NEW_USERS_ACCESS = [name for name, details in SSO_SERVICES.items() if details["access"] == "everyone"]
# Views every logged-in user reaches, with or without access to this service. Named by the view
# itself (module and name of its function or class, see sso_shared.access.service_access.view_path), not by URL
# name: another app's view that happens to be named "health" or "login" stays behind the gate.
# https://docs.djangoproject.com/en/5.2/ref/urlresolvers/#django.urls.ResolverMatch.func
SSO_ACCESS_EXEMPT_VIEWS = frozenset(
    {
        "django.contrib.auth.views.LoginView",
        "sso_shared.accounts.views.LoginView",
        "django.contrib.auth.views.LogoutView",
        "django.contrib.auth.views.PasswordChangeView",
        "sso_shared.accounts.views.PasswordChangeView",
        "django.contrib.auth.views.PasswordChangeDoneView",
        "sso_shared.accounts.views.whoami",
        "sso_shared.accounts.views.health",
        "sso_shared.accounts.views.admin_login",
        "sso_shared.sessions.your_sessions.SessionsView",
        "django.contrib.admin.sites.AdminSite.logout",
        # The second factor and recovery (docs/login-protection.md): whoever may log in needs them,
        # A's access or not (a user of B alone sets up a second factor on A).
        "sso_shared.second_factor.login_step.SecondStepView",
        "sso_shared.second_factor.passkeys.LoginBegin",
        "sso_shared.second_factor.passkeys.LoginComplete",
        "sso_shared.second_factor.page.TwoFactorView",
        "sso_shared.second_factor.passkeys.RegisterBegin",
        "sso_shared.second_factor.passkeys.RegisterComplete",
        "django.views.i18n.JavaScriptCatalog",
        "sso_shared.accounts.recovery.PasswordResetView",
        "sso_shared.accounts.recovery.PasswordResetDoneView",
        "sso_shared.accounts.recovery.PasswordResetConfirmView",
        "django.contrib.auth.views.PasswordResetCompleteView",
    }
)

# ------------------------------------------------------------------------------
# Apps, middleware and templates every service runs.
# https://docs.djangoproject.com/en/5.2/ref/settings/#installed-apps
# ------------------------------------------------------------------------------
SHARED_APPS = [
    # Before contrib apps so its templates and command overrides win.
    "sso_shared",
    # Adopted projects' old user ids and carried-over sessions (docs/adopting.md); label sso_adoption.
    "sso_shared.adoption",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    # Its clearsessions command clears whatever SESSION_ENGINE stores; its own
    # table is where sessions lived before sso_shared 0004 copied them.
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # The login lockout, its state in the shared database (SSO_SHARED_APP_LABELS).
    "axes",
    # The second factor, its devices in the shared database (SSO_SHARED_APP_LABELS).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # A browser still holding an adopted project's session cookie is logged in once (docs/adopting.md).
    "sso_shared.adoption.middleware.LegacySessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Before the view, after the CSRF check: a locked address, or a login with no chance of a password
    # check now, refused at once; the others get their place in line (sso_shared.login_protection.login_gate).
    "sso_shared.login_protection.login_gate.LoginGateMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "sso_shared.access.service_access.ServiceAccessMiddleware",
    # A temporary password to change, or a second factor the user must have and lacks: that page first.
    "sso_shared.accounts.requirements.AccountRequirementsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Every password check busy (sso_shared.login_protection.password_checks): the 429 page with Retry-After.
    "sso_shared.login_protection.password_checks.PasswordChecksBusyMiddleware",
    # Turns a locked login into the lockout page (sso_shared.login_protection.lockout.lockout_response); last,
    # as axes asks.
    "axes.middleware.AxesMiddleware",
]
# https://docs.djangoproject.com/en/5.2/ref/settings/#templates
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sso_shared.accounts.context_processors.service",
            ],
        },
    },
]

# ------------------------------------------------------------------------------
# Internationalisation
# https://docs.djangoproject.com/en/5.2/topics/i18n/
# ------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# ------------------------------------------------------------------------------
# Logging: to stdout for gunicorn and Docker; never log secrets.
# https://docs.djangoproject.com/en/5.2/topics/logging/
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Every line carries the request id nginx set (X-Request-ID; sso_shared.operations.request_id), "-" outside
    # a request.
    "filters": {"request_id": {"()": "sso_shared.operations.request_id.RequestIdFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s rid=%(request_id)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        # "Session data corrupted" lands here: the sign of a SECRET_KEY mismatch.
        "django.security": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
