from sso_shared.testing import django_db_setup  # noqa: F401 (closes both aliases before teardown)
