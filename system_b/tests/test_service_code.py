"""The plain Django idioms act on the service's own data (docs/service-code.md).

Each test here backs one statement of that page.
"""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction

from review.models import Review
from sso_shared.routers import SERVICE_DB, SHARED_DB

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


def test_connection_cursor_reaches_the_services_own_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        assert cursor.fetchone()[0] == connections[SERVICE_DB].settings_dict["NAME"]
    assert connection.alias == SERVICE_DB
    assert connections[SHARED_DB].settings_dict["NAME"] != connection.settings_dict["NAME"]


def test_atomic_requests_on_default_roll_back_a_failed_views_own_writes(rita, settings, monkeypatch):
    settings.ROOT_URLCONF = "tests.urls_with_a_failing_view"
    monkeypatch.setitem(connections[SERVICE_DB].settings_dict, "ATOMIC_REQUESTS", True)
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(rita)
    assert client.get("/write-then-fail").status_code == 500
    assert not Review.objects.filter(subject="Half-done").exists()


def test_users_are_still_found_in_the_shared_database(rita):
    assert User.objects.get(username="rita")._state.db == SHARED_DB
    assert Review.objects.create(subject="Mine", reviewer=rita)._state.db == SERVICE_DB
