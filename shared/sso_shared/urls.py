"""URLs every service serves, included at the root of its URLconf."""

from django.contrib import admin
from django.urls import path

from sso_shared.accounts import views

urlpatterns = [
    path("whoami", views.whoami, name="whoami"),
    path("health", views.health, name="health"),
    # Before admin.site.urls so the admin's own login form is never shown.
    path("admin/login/", views.admin_login, name="admin_login"),
    # Before admin.site.urls too: the old password is checked like a login (locked, counted, audited).
    path("admin/password_change/", admin.site.admin_view(views.admin_password_change), name="admin_password_change"),
    path("admin/", admin.site.urls),
]
