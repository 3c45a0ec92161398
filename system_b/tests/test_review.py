import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test.utils import CaptureQueriesContext

from review.models import Review
from sso_shared.database.routers import SERVICE_DB

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()


@pytest.fixture
def bob(client):
    user = User.objects.create_user("bob", password="a-long-password-1")
    client.force_login(user)
    return user


def test_anonymous_visitors_are_sent_to_the_login_page_on_a(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/a/accounts/login/?next=/b/"


def test_b_has_no_login_page_of_its_own(client):
    assert client.get("/accounts/login/").status_code == 404


def test_a_review_records_its_reviewer(client, bob):
    response = client.post("/", {"subject": "New laptop", "verdict": "approved", "note": ""})
    assert response.status_code == 302
    review = Review.objects.get(subject="New laptop")
    assert review.reviewer == bob
    assert '<td class="owner">bob</td>' in client.get("/").content.decode()


def test_logout_is_a_post_and_ends_the_shared_session(client, bob):
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/a/accounts/login/"
    assert client.get("/whoami").json()["authenticated"] is False


def test_whoami_costs_one_query_where_any_django_project_costs_two(client, bob):
    client.get("/whoami")  # the session row's statement is prepared once per connection
    with CaptureQueriesContext(connections[SERVICE_DB]) as captured:
        assert client.get("/whoami").json() == {"service": "b", "authenticated": True, "username": "bob"}
    # The session row with its user (sso_shared.sessions.user_row), where Django reads the session, then the user.
    [query] = captured.captured_queries
    assert query["sql"].startswith("EXECUTE sso_session_row_")


def test_the_admin_lists_and_opens_reviews_whose_reviewer_lives_elsewhere(client):
    admin = User.objects.create_superuser("root", "root@example.com", "a-long-password-1")
    client.force_login(admin)
    review = Review.objects.create(subject="Budget", reviewer=admin)
    listing = client.get("/admin/review/review/")
    assert listing.status_code == 200
    assert "root" in listing.content.decode()
    change = client.get(f"/admin/review/review/{review.pk}/change/")
    assert change.status_code == 200
    assert str(admin.pk) in change.content.decode()


def test_the_reviewer_key_is_a_real_foreign_key_to_the_shared_user():
    field = Review._meta.get_field("reviewer")
    assert field.db_constraint is True
    assert field.related_model is User
