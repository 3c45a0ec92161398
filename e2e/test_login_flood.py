"""The login under a flood, through nginx, gunicorn and PostgreSQL (docs/login-protection.md, "Under a flood").

- A flood of wrong logins with random usernames from several addresses, each within nginx's rate: a real
  user, from an address of their own, logs in meanwhile; logged-in pages on A and B answer; every flooding
  address ends locked for every username. Then nginx answers a locked address's login POSTs by itself for a
  few seconds: the audit trail records the first of them, not the others.
- Login POSTs held in flight (their bodies sent slowly; nginx counts them once their headers are read):
  an address has at most two, B at most one; another address's login goes on, and the pages answer.

Each test speaks from loopback addresses of its own (drawn afresh, as scripts/bench_login_flood.py does),
so no lock or throttle of theirs meets the rest of the suite. It asserts what happens, never how long it
takes: the figures are scripts/bench_login_flood.py's.
"""

import ipaddress
import secrets
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

from .client import SiteClient
from .conftest import BASE_URL, VERIFY, manage
from .raw import RawSite
from .test_login_protection import ADDRESSES_REACH_NGINX, browser_at, is_lockout_page, is_throttle_page

LOGIN = "/a/accounts/login/"
FLOODERS = 8
# Enough for each flooding address to reach the address lock (LOGIN_ADDRESS_FAILURE_LIMIT, 20 by default).
ATTEMPTS_EACH = 40


def fresh_addresses(count: int) -> list[str]:
    """Loopback addresses this site has never seen (all of 127.0.0.0/8 is this machine)."""
    network = ipaddress.ip_address(f"127.{secrets.randbelow(200) + 20}.{secrets.randbelow(256)}.0")
    return [str(network + 2 + index) for index in range(count)]


@pytest.fixture(scope="module", autouse=True)
def on_loopback():
    if not RawSite(BASE_URL, verify=VERIFY).is_loopback():
        pytest.skip("these tests speak from several loopback addresses: only to a site on this machine")


@pytest.fixture
def many_addresses():
    if not ADDRESSES_REACH_NGINX:
        pytest.skip("behind Docker's port proxy (Compose, Swarm) every loopback client reaches nginx as one address")


def is_busy_page(response) -> bool:
    return response.status_code == 429 and 'data-testid="login-busy"' in response.text


def flood_from(address: str, answers: list, stop: threading.Event):
    """Wrong passwords for random usernames, about twice a second (nginx's rate), until the address is locked."""
    flooder = browser_at(address)
    for _ in range(ATTEMPTS_EACH):
        if stop.is_set():
            return
        response = flooder.login(f"nobody-{secrets.token_hex(5)}", "wrong-password")
        answers.append((address, response))
        if is_lockout_page(response):
            return
        time.sleep(0.5)


def log_in_honouring_retry_after(site: SiteClient, username: str, password: str, tries: int = 30):
    """As a person would: try again when the page says so, a bounded number of times."""
    for _ in range(tries):
        response = site.login(username, password)
        if response.status_code != 429 or is_lockout_page(response):
            return response
        time.sleep(float(response.headers.get("Retry-After", "1")))
    return response


def test_a_real_user_logs_in_while_many_addresses_flood_the_login(many_addresses, user):
    username, password = user
    reader = SiteClient(BASE_URL, verify=VERIFY)
    assert reader.login(username, password).status_code == 302
    *flood, real_user = fresh_addresses(FLOODERS + 1)
    answers, stop = [], threading.Event()
    threads = [threading.Thread(target=flood_from, args=(address, answers, stop), daemon=True) for address in flood]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)  # the flood under way
        site = browser_at(real_user)
        got_in = log_in_honouring_retry_after(site, username, password)
        assert got_in.status_code == 302, (got_in.status_code, got_in.text[:300])
        assert site.whoami("b") == {"service": "b", "authenticated": True, "username": username}
        # Logged-in pages answer meanwhile, on both services.
        for path in ("/a/whoami", "/a/", "/b/whoami", "/b/"):
            assert reader.get(path, allow_redirects=False).status_code == 200, path
    except BaseException:
        stop.set()  # the flood ends with the test
        raise
    finally:
        for thread in threads:
            thread.join(ATTEMPTS_EACH)
    # Every flooding address was answered with the site's own pages, and ended locked for every username.
    for address, response in answers:
        wrong_password = response.status_code == 200 and "didn't match" in response.text
        refused = is_busy_page(response) or is_lockout_page(response) or is_throttle_page(response)
        assert wrong_password or refused, (address, response.status_code)
    locked = {address for address, response in answers if is_lockout_page(response)}
    assert locked == set(flood), sorted(set(flood) - locked)
    assert "from your address is locked" in next(r for _, r in answers if is_lockout_page(r)).text


def test_nginx_answers_a_locked_address_by_itself_for_a_few_seconds(many_addresses):
    [address] = fresh_addresses(1)
    flooder = browser_at(address)
    for _ in range(ATTEMPTS_EACH):
        if is_lockout_page(flooder.login(f"nobody-{secrets.token_hex(5)}", "wrong-password")):
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"{ATTEMPTS_EACH} wrong logins from {address} and no lockout page")
    names = [f"later-{secrets.token_hex(5)}" for _ in range(4)]
    for name in names:
        assert is_lockout_page(flooder.login(name, "wrong-password"))
    # The lockout page each time, but the service saw none of these (it saw the one that locked): nginx kept it.
    for name in names:
        assert manage("a", "sso_audit", "--user", name).strip() == "", name
    manage("a", "axes_reset_ip", address)


@pytest.fixture(scope="module")
def plain_http():
    if urlsplit(BASE_URL).scheme != "http":
        pytest.skip("holds login POSTs in flight over a plain socket: a plain-HTTP site only")


def held_post(path: str, address: str | None = None) -> socket.socket:
    """A POST whose headers nginx has read and whose body never ends: in flight until closed."""
    url = urlsplit(BASE_URL)
    source = (address, 0) if address else None
    held = socket.create_connection((url.hostname, url.port or 80), timeout=10, source_address=source)
    held.sendall(
        (
            f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nusername=some"
        ).encode()
    )
    time.sleep(0.2)  # nginx has read the headers
    return held


def test_an_address_has_at_most_two_login_posts_in_flight(many_addresses, plain_http, user):
    username, password = user
    crowded, other = fresh_addresses(2)
    held = [held_post(LOGIN, crowded) for _ in range(2)]
    try:
        assert is_throttle_page(browser_at(crowded).login(username, password))
        # Another address logs in as usual.
        assert browser_at(other).login(username, password).status_code == 302
    finally:
        for connection in held:
            connection.close()


def test_b_has_one_login_post_in_flight_and_as_login_and_pages_go_on(plain_http, user):
    """B has no login workers: one of its POSTs at a time, so a worker of B is always left for its pages."""
    username, password = user
    reader = SiteClient(BASE_URL, verify=VERIFY)
    assert reader.login(username, password).status_code == 302
    first, second = fresh_addresses(2) if ADDRESSES_REACH_NGINX else (None, None)
    held = held_post("/b/admin/login/", first)
    try:
        on_b = browser_at(second) if second else SiteClient(BASE_URL, verify=VERIFY)
        on_b.get("/b/admin/login/")
        answer = on_b.post_form("/b/admin/login/", {"username": username, "password": "wrong"}, allow_redirects=False)
        assert is_throttle_page(answer), answer.status_code
        # A's login is not held back by B's, and the pages of both answer.
        assert (browser_at(second) if second else SiteClient(BASE_URL, verify=VERIFY)).login(
            username, password
        ).status_code == 302
        for path in ("/a/whoami", "/a/", "/b/whoami", "/b/"):
            assert reader.get(path, allow_redirects=False).status_code == 200, path
    finally:
        held.close()
