"""The login under a flood, through nginx: login POSTs beyond the in-flight cap get 429 at once, pages go on.

nginx lets LOGIN_REQUESTS_AT_ONCE (1 by default) login POSTs per service be in flight; one more gets
the 429 page at once instead of waiting for a worker of A, so logged-in users' pages never queue
behind password checks (docs/login-protection.md, "Under a flood"). Here one login POST is held in
flight by sending its body slowly (nginx counts it as soon as its headers are read), and meanwhile:
another login POST to A is refused at once, a logged-in user's pages on A and B answer, and B's
admin login, another service, is not held by A's. Once the held POST ends, logging in works again.
It asserts what happens, never how long it takes; speed is scripts/bench_login_flood.py's.
"""

import socket
from urllib.parse import urlsplit

import pytest

from .client import SiteClient
from .conftest import BASE_URL, VERIFY
from .raw import RawSite
from .test_login_protection import browser_at, is_throttle_page

HELD_FROM, OTHER = "127.0.0.7", "127.0.0.8"
LOGIN = "/a/accounts/login/"


@pytest.fixture(scope="module", autouse=True)
def plain_http_on_loopback():
    if urlsplit(BASE_URL).scheme != "http" or not RawSite(BASE_URL, verify=VERIFY).is_loopback():
        pytest.skip("holds a login POST in flight over a plain socket: a plain-HTTP site on this machine only")


def held_login_post():
    """A login POST whose headers nginx has read and whose body never ends: in flight until closed."""
    url = urlsplit(BASE_URL)
    held = socket.create_connection((url.hostname, url.port or 80), timeout=10, source_address=(HELD_FROM, 0))
    held.sendall(
        (
            f"POST {LOGIN} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nusername=some"
        ).encode()
    )
    return held


def test_a_login_post_beyond_the_cap_is_refused_at_once_while_logged_in_pages_answer(user):
    username, password = user
    reader = SiteClient(BASE_URL, verify=VERIFY)
    assert reader.login(username, password).status_code == 302
    held = held_login_post()
    try:
        # Another client's login POST to A: the 429 page, while the held one is in flight.
        refused = browser_at(OTHER).login(username, password)
        assert is_throttle_page(refused), (refused.status_code, refused.text[:300])
        # The logged-in user's pages on both services answer meanwhile.
        for path in ("/a/whoami", "/a/", "/b/whoami", "/b/"):
            assert reader.get(path, allow_redirects=False).status_code == 200, path
        # B's admin login is another service's: not held back by A's login in flight.
        on_b = browser_at(OTHER)
        on_b.get("/b/admin/login/")
        answer = on_b.post_form("/b/admin/login/", {"username": username, "password": "wrong"}, allow_redirects=False)
        assert not is_throttle_page(answer), answer.status_code
    finally:
        held.close()
    # The held POST gone, the next login goes through.
    for _ in range(20):
        again = browser_at(OTHER).login(username, password)
        if again.status_code == 302:
            break
        assert is_throttle_page(again)  # nginx may not have noticed the closed connection yet
    assert again.status_code == 302
