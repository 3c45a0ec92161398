"""The audit trail through the real site: nginx, gunicorn and the shared database."""

import ipaddress

from .conftest import manage

FAKE_FORWARDED = "203.0.113.9"


def test_a_failed_then_a_successful_login_are_in_the_audit_with_the_address_nginx_saw(site, user):
    username, password = user
    # A client claiming another address: nginx passes the claim on, but adds the address it saw last.
    site.http.headers["X-Forwarded-For"] = FAKE_FORWARDED
    assert site.login(username, "not-" + password).status_code == 200
    assert site.login(username, password).status_code == 302

    lines = manage("a", "sso_audit", "--last", "5").splitlines()
    ours = [line for line in lines if f" user={username} " in line]
    assert [line.split()[1] for line in ours] == ["login_failed", "login"], lines
    for line in ours:
        time, _kind, service, _user, address = line.split()
        assert service == "service=a"
        assert time[:4].isdigit() and "T" in time
        recorded = address.removeprefix("address=")
        ipaddress.ip_address(recorded)  # an IP address: 127.0.0.1 natively, the Docker gateway under Compose
        assert recorded != FAKE_FORWARDED, line
    # Both of this user's events are found by name, on B's command too (one shared trail).
    assert [line.split()[1] for line in manage("b", "sso_audit", "--user", username).splitlines()] == [
        "login_failed",
        "login",
    ]
