import pytest

pytestmark = pytest.mark.django_db(databases="__all__")


def test_whoami_for_an_anonymous_visitor(client):
    response = client.get("/whoami")
    assert response.status_code == 200
    assert response.json() == {"service": "a", "authenticated": False, "username": None}


def test_whoami_is_never_cached(client):
    assert "no-cache" in client.get("/whoami")["Cache-Control"]


def test_health_reports_both_databases_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["ok"] is True


def test_admin_login_sends_anonymous_visitors_to_the_one_login_page(client):
    response = client.get("/admin/login/?next=/a/admin/intake/")
    assert response.status_code == 302
    assert response["Location"] == "/a/accounts/login/?next=/a/admin/intake/"
