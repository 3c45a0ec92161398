"""The migrate lock really excludes a second holder, on a real PostgreSQL."""

import psycopg2
import pytest
from django.db import connections

from sso_shared.database.locks import MIGRATE_LOCK_ID, advisory_lock
from sso_shared.database.routers import SHARED_DB

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def _second_connection():
    params = connections[SHARED_DB].get_connection_params()
    return psycopg2.connect(**{k: v for k, v in params.items() if k in {"dbname", "user", "password", "host", "port"}})


def test_a_second_session_cannot_take_the_lock_while_it_is_held():
    other = _second_connection()
    try:
        with other.cursor() as cursor:
            with advisory_lock(SHARED_DB):
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATE_LOCK_ID])
                assert cursor.fetchone()[0] is False
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATE_LOCK_ID])
            assert cursor.fetchone()[0] is True
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK_ID])
    finally:
        other.close()
