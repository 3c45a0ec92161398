"""Rotating SECRET_KEY as docs/security.md "Rotating SECRET_KEY" says, with both services' real gunicorns.

Sessions made under the old key keep working on both services while the old
key is a fallback, and end once it is removed, unless they were used (and so
re-signed with the new key) in between.
"""

import secrets

import requests

from .two_services import new_key

SESSION_COOKIE, CSRF_COOKIE = "sso_sessionid", "sso_csrftoken"


class Browser:
    """One person's session cookie, carried between the two services as the shared cookie would be."""

    def __init__(self, login_base: str, username: str, password: str):
        form = requests.get(f"{login_base}/accounts/login/", timeout=10)
        token = form.cookies[CSRF_COOKIE]
        answer = requests.post(
            f"{login_base}/accounts/login/",
            data={"csrfmiddlewaretoken": token, "username": username, "password": password},
            cookies={CSRF_COOKIE: token},
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 302, answer.text[:500]
        self.session = answer.cookies[SESSION_COOKIE]

    def is_logged_in_on(self, base: str) -> bool:
        answer = requests.get(f"{base}/whoami", cookies={SESSION_COOKIE: self.session}, timeout=10)
        # A service that re-signs the session under the new key hands out a new cookie.
        self.session = answer.cookies.get(SESSION_COOKIE, self.session)
        return answer.json()["authenticated"]


def create_user(services) -> tuple[str, str]:
    username, password = f"rotator-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    result = services.manage(
        "a",
        "createsuperuser",
        "--noinput",
        "--username",
        username,
        "--email",
        f"{username}@example.com",
        DJANGO_SUPERUSER_PASSWORD=password,
    )
    assert result.returncode == 0, result.stderr
    return username, password


def test_sessions_survive_a_rotation_on_both_services_and_end_when_the_fallback_goes(deployed):
    old, new = deployed.env("a")["SECRET_KEY"], new_key()
    user = create_user(deployed)

    with deployed.gunicorn("a") as a, deployed.gunicorn("b") as b:
        used_on_a_first, used_on_b_first, unused = (Browser(a, *user) for _ in range(3))
        assert unused.is_logged_in_on(a) and unused.is_logged_in_on(b)

    rotating = {"SECRET_KEY": new, "SECRET_KEY_FALLBACKS": old}
    with deployed.gunicorn("a", **rotating) as a, deployed.gunicorn("b", **rotating) as b:
        assert used_on_a_first.is_logged_in_on(a) and used_on_a_first.is_logged_in_on(b)
        assert used_on_b_first.is_logged_in_on(b) and used_on_b_first.is_logged_in_on(a)

    with deployed.gunicorn("a", SECRET_KEY=new) as a, deployed.gunicorn("b", SECRET_KEY=new) as b:
        assert not unused.is_logged_in_on(a)
        assert not unused.is_logged_in_on(b)
        assert used_on_a_first.is_logged_in_on(a) and used_on_a_first.is_logged_in_on(b)
        assert used_on_b_first.is_logged_in_on(b) and used_on_b_first.is_logged_in_on(a)


def test_a_rolling_rotation_is_not_an_error_but_dropping_the_old_key_too_early_is(deployed):
    """B runs on the old key while A restarts first: only a warning, unless A drops the old key."""
    old, new = deployed.env("a")["SECRET_KEY"], new_key()
    for service in ("system_a", "system_b"):
        deployed.manage("a", "sso_forget", service)
    assert deployed.manage("a", "sso_register").returncode == 0
    assert deployed.manage("b", "sso_register").returncode == 0

    with deployed.running("a"), deployed.running("b"):
        rolling_rotation(deployed, old, new)


def rolling_rotation(deployed, old, new):
    restarted_first = deployed.manage("a", "sso_register", SECRET_KEY=new, SECRET_KEY_FALLBACKS=old)
    assert restarted_first.returncode == 0
    assert (
        "SECRET_KEY rotation in progress: system_b does not accept the key system_a signs with, so sessions "
        "system_a writes look empty on system_b until system_b restarts with the same SECRET_KEY and "
        "SECRET_KEY_FALLBACKS." in restarted_first.stderr
    )
    restarted_second = deployed.manage("b", "sso_register", SECRET_KEY=new, SECRET_KEY_FALLBACKS=old)
    assert (restarted_second.returncode, restarted_second.stderr) == (0, "")

    # Dropping the old key on A while B has not restarted yet would log B's users out of A.
    assert deployed.manage("b", "sso_register").returncode == 0  # B back on the old key only
    too_early = deployed.manage("a", "check", SECRET_KEY=new)
    assert too_early.returncode == 1
    assert "SECRET_KEY of system_a differs from system_b" in too_early.stderr
