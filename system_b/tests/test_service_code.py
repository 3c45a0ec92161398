"""The plain Django idioms act on the service's own data and the shared users alike (docs/service-code.md).

One connection sees the service's schema, then the shared one: each test here backs
one statement of that page.
"""

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, connections, transaction

from review.models import Review
from sso_shared.database.routers import SERVICE_DB, SHARED_DB

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)
User = get_user_model()


@pytest.fixture
def rita():
    return User.objects.create_user("rita", password="a-long-password-1")


def test_select_for_update_works_in_a_plain_atomic_block(rita):
    Review.objects.create(subject="Laptop", reviewer=rita)
    with transaction.atomic():
        review = Review.objects.select_for_update().get(subject="Laptop")
        review.note = "locked while deciding"
        review.save()
    assert Review.objects.get(subject="Laptop").note == "locked while deciding"


def test_a_plain_atomic_block_rolls_back_the_services_own_writes(rita):
    with pytest.raises(RuntimeError), transaction.atomic():
        Review.objects.create(subject="Rolled back", reviewer=rita)
        raise RuntimeError("something failed half-way")
    assert not Review.objects.filter(subject="Rolled back").exists()


def test_on_commit_runs_when_the_services_transaction_commits(rita):
    ran = []
    with transaction.atomic():
        Review.objects.create(subject="Notify", reviewer=rita)
        transaction.on_commit(lambda: ran.append(Review.objects.filter(subject="Notify").exists()))
        assert ran == []
    assert ran == [True]


def test_connection_cursor_sees_the_services_schema_then_the_shared_one():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database(), current_schemas(false)")
        database, schemas = cursor.fetchone()
    assert database == connections[SERVICE_DB].settings_dict["NAME"]
    assert schemas == ["system_b", "shared"]
    assert connection.alias == SERVICE_DB == SHARED_DB


def test_one_plain_atomic_block_rolls_back_a_new_user_and_a_service_row_together():
    with pytest.raises(RuntimeError), transaction.atomic():
        newcomer = User.objects.create_user("newcomer", password="a-long-password-1")
        Review.objects.create(subject="First review", reviewer=newcomer)
        raise RuntimeError("something failed half-way")
    assert not User.objects.filter(username="newcomer").exists()
    assert not Review.objects.filter(subject="First review").exists()


def test_select_related_to_the_user_is_one_query(rita, django_assert_num_queries):
    Review.objects.create(subject="Joined", reviewer=rita)
    with django_assert_num_queries(1) as captured:
        review = Review.objects.select_related("reviewer").get(subject="Joined")
        assert review.reviewer.username == "rita"
    assert 'INNER JOIN "sso_user"' in captured.captured_queries[0]["sql"]


def test_the_user_key_is_a_real_constraint_into_the_shared_schema():
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT target_schema.nspname, target.relname
              FROM pg_constraint constraint_
              JOIN pg_class source ON source.oid = constraint_.conrelid
              JOIN pg_namespace source_schema ON source_schema.oid = source.relnamespace
              JOIN pg_class target ON target.oid = constraint_.confrelid
              JOIN pg_namespace target_schema ON target_schema.oid = target.relnamespace
             WHERE constraint_.contype = 'f' AND source_schema.nspname = 'system_b' AND source.relname = %s
            """,
            [Review._meta.db_table],
        )
        assert cursor.fetchall() == [("shared", "sso_user")]
    # A reviewer id that is no user is refused by PostgreSQL itself (the check is deferred to commit).
    from uuid import uuid4

    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.create(subject="Nobody's", reviewer_id=uuid4())


def test_atomic_requests_on_default_roll_back_a_failed_views_own_writes(rita, settings, monkeypatch):
    settings.ROOT_URLCONF = "tests.urls_with_a_failing_view"
    monkeypatch.setitem(connections[SERVICE_DB].settings_dict, "ATOMIC_REQUESTS", True)
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(rita)
    assert client.get("/write-then-fail").status_code == 500
    assert not Review.objects.filter(subject="Half-done").exists()


def test_users_and_the_services_rows_come_through_the_one_connection(rita):
    assert User.objects.get(username="rita")._state.db == SERVICE_DB
    assert Review.objects.create(subject="Mine", reviewer=rita)._state.db == SERVICE_DB
