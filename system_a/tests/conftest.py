import pytest

from sso_shared.testing import django_db_setup  # noqa: F401 (closes both aliases before teardown)

from .two_services import TwoServices


@pytest.fixture
def empty_databases():
    """A deployment's three databases, created empty."""
    services = TwoServices().create()
    yield services
    services.drop()


@pytest.fixture(scope="module")
def deployed():
    """Both services migrated (sso_migrate) into fresh databases, each having recorded its settings."""
    services = TwoServices().create()
    try:
        services.migrate_both()
        for service in ("a", "b"):
            result = services.manage(service, "sso_register")
            assert result.returncode == 0, result.stderr
        yield services
    finally:
        services.drop()


@pytest.fixture
def fresh_deployment():
    """Like ``deployed``, but for one test only: it may change records and migrations."""
    services = TwoServices().create()
    try:
        services.migrate_both()
        yield services
    finally:
        services.drop()
