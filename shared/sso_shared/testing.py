"""pytest fixtures for projects that share this login: import them in a conftest.py.

    from sso_shared.testing import django_db_setup  # noqa: F401

Both aliases of a service ("default" and "shared", sso_shared.database.routers) name one test
database. Django creates and drops it through "default"; a connection still open on
"shared" would keep it from being dropped ("is being accessed by other users").
"""

import pytest
from django.db import connections


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's, then every connection closed before the test database is dropped."""
    yield
    with django_db_blocker.unblock():
        connections.close_all()
