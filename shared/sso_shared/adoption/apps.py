from django.apps import AppConfig


class AdoptionConfig(AppConfig):
    """Its own app label, so its tables (in the shared database) migrate apart from sso_shared's."""

    name = "sso_shared.adoption"
    label = "sso_adoption"
    verbose_name = "Adopted projects"
    default_auto_field = "django.db.models.BigAutoField"
