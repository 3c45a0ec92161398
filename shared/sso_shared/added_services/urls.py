"""The URLconf of a service added with ./stack add-service: the shared URLs, then the project's own.

The project's URLs stay as its authors wrote them (services.toml's "settings" names their module, read
as SSO_PROJECT_URLCONF). Before them come what every service serves (whoami, health, logout) and the
one login for its admins: Django's admin, wherever the project mounts it, and Wagtail's
(WAGTAILADMIN_LOGIN_URL) both send a visitor to A's login page, and show a logged-in user who may not
use that admin a page saying so, never the login page again (which would send them back: a loop).
"""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from sso_shared.accounts import views as shared_views
from sso_shared.added_services import views

# Django's admin site, wherever the project's URLs put it, asks this view for a login.
admin.site.login = views.admin_login

urlpatterns = [
    path("whoami", shared_views.whoami, name="whoami"),
    path("health", shared_views.health, name="health"),
    # Logging out here ends the session everywhere (the one session store).
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("sso/admin-login/", views.admin_login, name="sso_admin_login"),
    path("", include(settings.SSO_PROJECT_URLCONF)),
]

# A database that cannot be reached is a 503 page, not a 500 (sso_shared.operations.unavailable).
handler500 = "sso_shared.operations.unavailable.server_error"
