"""Where Django's admin finds this app's pages (``admin.autodiscover`` imports ``<app>.admin``).

The user, group and audit-trail pages are in ``sso_shared.accounts.admin``, the lockout's in
``sso_shared.login_protection.lockout_admin``: importing them registers them, in every service.
"""

from sso_shared.accounts import admin as accounts_admin  # noqa: F401
from sso_shared.login_protection import lockout_admin  # noqa: F401
