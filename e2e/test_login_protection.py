"""Login protection through the real site: nginx's throttle, the lockout (django-axes), the audit, lifting a lock.

Each client here speaks from an address of its own on loopback (all of 127.0.0.0/8 is this
machine), so nginx sees each as another client, and the buckets and locks of the rest of the
suite (which speaks from 127.0.0.1) are left alone. Under Docker Compose the published port's
proxy makes every client the same address; the tests that need two say so and stop.
docs/login-protection.md
"""

import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from requests.adapters import HTTPAdapter

from sso_shared.environment.envfile import read_env_file

from .client import SiteClient
from .conftest import BASE_URL, TARGET, VERIFY, manage
from .raw import RawSite

# One address per test, so no test meets another's throttle bucket or lock.
ATTACKER, GUESSER, OWNER, LIFTED, FLOODER = "127.0.0.3", "127.0.0.5", "127.0.0.2", "127.0.0.6", "127.0.0.4"
ATTEMPTS = 40
LOGIN = "/a/accounts/login/"
# Native: nginx sees each client's own address. Compose and Swarm: Docker's port proxy's, the same for all.
ADDRESSES_REACH_NGINX = TARGET == "native"


def stack_setting(name: str, default: str) -> str:
    path = os.environ.get("E2E_ENV_FILE", "")
    values = read_env_file(path) if path and os.path.isfile(path) else {}
    return os.environ.get(name) or values.get(name) or default


@pytest.fixture(scope="module", autouse=True)
def on_loopback():
    if not RawSite(BASE_URL, verify=VERIFY).is_loopback():
        pytest.skip("these tests speak from several loopback addresses: only to a site on this machine")


class FromAddress(HTTPAdapter):
    """Connections from the given local address (any of 127.0.0.0/8 works on loopback)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def browser_at(address: str) -> SiteClient:
    site = SiteClient(BASE_URL, verify=VERIFY)
    for scheme in ("http://", "https://"):
        site.http.mount(scheme, FromAddress(address))
    return site


def audit_of(username: str) -> list[tuple[str, str]]:
    """(kind, address) of each of the user's events, oldest first, as `sso_audit` prints them."""
    events = []
    for line in manage("a", "sso_audit", "--user", username).splitlines():
        _time, kind, _service, _user, address = line.split()
        events.append((kind, address.removeprefix("address=")))
    return events


def is_lockout_page(response) -> bool:
    return response.status_code == 429 and 'data-testid="locked-out"' in response.text


def is_throttle_page(response) -> bool:
    return response.status_code == 429 and 'data-testid="too-many-logins"' in response.text


@pytest.fixture(scope="module")
def guessed_at():
    """The users guessed at here; their locks are lifted at the end, whatever happened (one command)."""
    usernames = []
    yield usernames
    if usernames:
        manage("a", "axes_reset_username", *usernames)


@pytest.fixture
def target(make_user, guessed_at):
    """A user to guess at; their locks lifted right after the test. Under Compose every client of the suite is one
    address (Docker's port proxy), which forty failures lock for every username (docs/login-protection.md,
    "Under a flood"): lifting the user's records, which hold those failures, unlocks it for the tests after."""
    username, password = make_user("target")
    guessed_at.append(username)
    yield username, password
    manage("a", "axes_reset_username", username)


def test_forty_wrong_passwords_in_a_row_get_locked_out_and_audited_with_the_address_nginx_saw(target):
    username, password = target
    attacker = browser_at(ATTACKER)
    responses = []
    for attempt in range(ATTEMPTS):
        # Each time claiming another address: nginx appends the one it saw, and only that one counts.
        attacker.http.headers["X-Forwarded-For"] = f"203.0.113.{attempt}"
        responses.append(attacker.login(username, f"wrong-{attempt}"))
    statuses = [response.status_code for response in responses]
    locked_at = statuses.index(429)
    assert 0 < locked_at < 10, statuses  # a few tries with the login form's own error, then locked
    assert "didn't match" in responses[0].text
    assert all(is_lockout_page(r) or is_throttle_page(r) for r in responses[locked_at:]), statuses
    lockout_page = responses[locked_at]
    assert is_lockout_page(lockout_page)
    assert f"<strong>{username}</strong>" in lockout_page.text and "locked until" in lockout_page.text
    assert int(lockout_page.headers["Retry-After"]) > 0

    # The right password from the locked address is refused too, before it is checked.
    assert is_lockout_page(attacker.login(username, password))
    assert attacker.whoami("a")["authenticated"] is False

    # The audit: each attempt once, with the address nginx saw and never what the client claimed.
    events = audit_of(username)
    refused = sum(is_lockout_page(r) for r in responses[locked_at + 1 :]) + 1  # + the right password
    assert [kind for kind, _ in events] == ["login_failed"] * (locked_at + 1) + ["locked_out"] * (1 + refused)
    recorded = {address for _, address in events}
    assert len(recorded) == 1 and not recorded & {f"203.0.113.{n}" for n in range(ATTEMPTS)}, recorded
    if ADDRESSES_REACH_NGINX:
        assert recorded == {ATTACKER}

    # The lock is in the shared database: System B's own code refuses the same pair.
    [seen] = recorded
    assert check_on_b(username, seen) == "refused"


def check_on_b(username: str, address: str) -> str:
    """Ask System B, in a process of its own, whether a login of the user from the address gets past the lock."""
    code = (
        "from django.contrib.auth import authenticate; from django.test import RequestFactory; "
        f"request = RequestFactory().post('/b/', REMOTE_ADDR={address!r}); "
        f"authenticate(request, username={username!r}, password='any'); "
        "print('refused' if getattr(request, 'sso_login_refused', False) else 'let through')"
    )
    return manage("b", "shell", "-v", "0", "-c", code).strip()


def lock_out(username: str, address: str) -> SiteClient:
    """Guess from the address until the lockout page comes; returns that client."""
    guesser = browser_at(address)
    for attempt in range(ATTEMPTS):
        if is_lockout_page(guesser.login(username, f"wrong-{attempt}")):
            return guesser
    raise AssertionError(f"{ATTEMPTS} wrong passwords from {address} and no lockout page")


def test_someone_elses_guessing_does_not_lock_the_user_out_at_their_own_address(target):
    if not ADDRESSES_REACH_NGINX:
        pytest.skip("behind Docker's port proxy (Compose, Swarm) every loopback client reaches nginx as one address")
    username, password = target
    guesser = lock_out(username, GUESSER)
    owner = browser_at(OWNER)
    assert owner.login(username, password).status_code == 302
    assert owner.whoami("b") == {"service": "b", "authenticated": True, "username": username}
    assert is_lockout_page(guesser.login(username, password))  # still locked where the guessing was


def test_an_administrator_lifts_the_lock_with_the_command_and_the_right_password_works_again(target):
    username, password = target
    attacker = lock_out(username, LIFTED)
    assert is_lockout_page(attacker.login(username, password))
    # Seen and lifted through either service: the records are shared.
    assert username in manage("b", "axes_list_attempts")
    assert "attempts removed" in manage("b", "axes_reset_username", username)
    assert attacker.login(username, password).status_code == 302
    assert attacker.whoami("a")["username"] == username


def test_a_flood_of_login_posts_from_one_address_gets_nginxs_429_page():
    burst = int(stack_setting("LOGIN_THROTTLE_BURST", "20"))
    flood = 2 * burst + 20

    def post(_):
        session = requests.Session()
        session.mount("http://", FromAddress(FLOODER))
        session.mount("https://", FromAddress(FLOODER))
        # No CSRF token: Django refuses each one that gets through (403) before any password is checked.
        with session:
            return session.post(
                BASE_URL.rstrip("/") + LOGIN,
                data={"username": "flood", "password": "flood"},
                allow_redirects=False,
                timeout=60,
                verify=VERIFY,
            )

    try:
        with ThreadPoolExecutor(flood) as pool:
            responses = list(pool.map(post, range(flood)))
        statuses = Counter(response.status_code for response in responses)
        assert set(statuses) == {403, 429}, statuses
        assert statuses[403] >= burst // 2, statuses  # the burst passes, held back to the rate
        page = next(response for response in responses if response.status_code == 429)
        assert is_throttle_page(page), page.text[:500]
        assert "Too many login attempts" in page.text and 'href="/a/accounts/login/"' in page.text
        assert page.headers["Content-Type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]  # the site's headers kept
        flooder = browser_at(FLOODER)
        assert flooder.get("/a/static/sso_shared/site.css").status_code == 200  # its look loads
        # Only POSTs count: the same address still gets the login form.
        assert flooder.get(LOGIN).status_code == 200
    finally:
        if not ADDRESSES_REACH_NGINX:
            # Every test speaks from this one address here: let its bucket drain before the next one.
            rate = stack_setting("LOGIN_THROTTLE_RATE", "2r/s")
            per_second = int(rate[:-3]) / (60 if rate.endswith("m") else 1)
            time.sleep(burst / per_second + 1)
