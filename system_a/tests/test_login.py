"""The one login page never sends a visitor back to itself: a `next` pointing there counts as none."""

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db(databases="__all__")
User = get_user_model()
PASSWORD = "a-long-password-1"


@pytest.fixture
def logged_in(client):
    client.force_login(User.objects.create_user("lena", password=PASSWORD))
    return client


@pytest.mark.parametrize(
    "next_url",
    [
        "/a/accounts/login/",  # was a 500: Django's "Redirection loop for authenticated user detected"
        "/a/accounts/login/?x=1",
        "/a/accounts/login/?next=/a/accounts/login/",
        "/a/accounts/login",
        "/a/accounts/%6cogin/",
        "http://testserver/a/accounts/login/",
    ],
)
def test_a_logged_in_visitor_sent_back_to_the_login_page_lands_on_the_home_page(logged_in, next_url):
    response = logged_in.get("/accounts/login/", {"next": next_url})
    assert response.status_code == 302
    assert response["Location"] == "/a/"


def test_a_logged_in_visitor_still_goes_on_to_any_other_page(logged_in):
    response = logged_in.get("/accounts/login/", {"next": "/b/admin/"})
    assert response.status_code == 302
    assert response["Location"] == "/b/admin/"


def test_the_form_drops_such_a_next_and_logging_in_lands_on_the_home_page(client):
    User.objects.create_user("lena", password=PASSWORD)
    form = client.get("/accounts/login/", {"next": "/a/accounts/login/"})
    assert form.status_code == 200
    assert 'name="next" value=""' in form.content.decode()
    response = client.post(
        "/accounts/login/", {"username": "lena", "password": PASSWORD, "next": "/a/accounts/login/?x=1"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/a/"
