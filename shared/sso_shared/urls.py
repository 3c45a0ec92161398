"""URLs every service serves, included at the root of its URLconf."""

from django.contrib import admin
from django.urls import path

from . import views

urlpatterns = [
    path("whoami", views.whoami, name="whoami"),
    path("health", views.health, name="health"),
    # Before admin.site.urls so the admin's own login form is never shown.
    path("admin/login/", views.admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
]
