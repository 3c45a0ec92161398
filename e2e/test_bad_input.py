"""Bad input gets a 4xx answer, never a 500: odd paths, loops through the login page, random junk.

Paths go out exactly as written (e2e/raw.py): `requests` would normalise `/a/../b/` before sending.
"""

import os
import random
import string
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from .client import CSRF_COOKIE, SESSION_COOKIE
from .conftest import BASE_URL, VERIFY
from .raw import RawSite

# Each matches /b/ (or /a/) in nginx once decoded and normalised, while its raw form starts
# with the other service's prefix or none: they reached the wrong gunicorn, which answered 500.
WRONG_SERVICE_PATHS = ["/a/..%2fb/", "//b/", "/a/../b/", "/b/%2e%2e/a/admin/"]


@pytest.fixture
def raw():
    site = RawSite(BASE_URL, verify=VERIFY)
    yield site
    site.close()


@pytest.mark.parametrize("path", WRONG_SERVICE_PATHS)
def test_a_path_that_leaves_its_prefix_is_refused(raw, path):
    status, _, body = raw.request("GET", path)
    assert 400 <= status < 500, f"{path}: {status}\n{body[:500]!r}"


def test_the_same_raw_requests_reach_a_service_by_its_own_path(raw):
    # The control for the test above: this client gets real answers when the path is plain.
    status, headers, body = raw.request("GET", "/b/whoami")
    assert status == 200
    assert b'"service": "b"' in body


@pytest.mark.parametrize(
    "next_url",
    ["/a/accounts/login/", "/a/accounts/login/?x=1", "/a/accounts/login/?next=/a/accounts/login/?next=/b/"],
)
def test_a_logged_in_user_sent_back_to_the_login_page_lands_on_the_home_page(site, user, next_url):
    username, password = user
    assert site.login(username, password).status_code == 302
    site.http.max_redirects = 5  # a loop raises TooManyRedirects instead of running on
    page = site.get("/a/accounts/login/?next=" + quote(next_url, safe="/"))
    assert page.status_code == 200
    assert page.url == BASE_URL.rstrip("/") + "/a/"  # LOGIN_REDIRECT_URL: A's home page
    assert f'<span class="username" data-testid="username">{username}</span>' in page.text


# --- fuzzing ------------------------------------------------------------------------

FUZZ_REQUESTS = 5000
BATCH = 250  # a few seconds each on a small machine, on loopback only
THREADS = 4

SEGMENTS = [
    "..",
    ".",
    "%2e%2e",
    "%2E%2e",
    "%2e",
    "%2f",
    "%2F",
    "..%2f",
    "%2e%2e%2f",
    "%5c",
    "%252e%252e",
    "",
    "a",
    "b",
    "admin",
    "static",
    "accounts",
    "login",
    "logout",
    "whoami",
    "health",
    "sso_shared",
    "user",
    "é",
    "日本語",
    "\u202e",
    "%C3%A9",
    "%FF",
    "\udcff",
    "%00",
    "%",
    "%zz",
    ";",
    ";jsessionid=1",
    "~",
    "+",
    "%0a",
    "%0d%0a",
    "*",
    "@",
    "(",
    "'",
    '"',
    "<script>",
    "${x}",
    "{{x}}",
    "%u002e",
]
PREFIXES = ["/a/", "/b/", "/", "//", "///", "/a", "/b", "/a/static/", "/b/static/", "/a/admin/", "/b/admin/",
            "/a/accounts/", "/b/accounts/", "/a//", "/./a/", "/A/", "/c/"]  # fmt: skip
NEXT_VALUES = [
    "/a/accounts/login/", "/a/accounts/login/?x=1", "/a/accounts/login/?next=/a/accounts/login/", "/a/", "/b/",
    "/b/admin/", "//evil.example/", "///evil.example", "https://evil.example/", "http:evil.example",
    "javascript:alert(1)", "\\\\evil.example", "/\\evil.example", "/%2e%2e/b/", "/a/accounts/logout/", "\r\n/x",
    "data:text/html,x", "/b/?next=/a/accounts/login/", "é", "/a/accounts/%6cogin/", "",
]  # fmt: skip
NEXT_PAGES = ["/a/accounts/login/", "/a/admin/login/", "/b/admin/login/", "/a/accounts/logout/", "/b/"]


def random_text(rng: random.Random, alphabet: str, longest: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, longest)))


def random_segment(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.05:
        return rng.choice(string.ascii_letters) * rng.randint(200, 3000)  # long: up to nginx's 414
    if roll < 0.15:
        return random_text(rng, string.ascii_letters + string.digits + "-_.~%!$&'()*+,;=:@é日", 30)
    return rng.choice(SEGMENTS)


def random_path(rng: random.Random) -> str:
    path = rng.choice(PREFIXES) + "/".join(random_segment(rng) for _ in range(rng.randint(0, 6)))
    if rng.random() < 0.3:
        path += rng.choice(["/", "?", "?a=1&b", "#x", "?next=" + rng.choice(NEXT_VALUES)])
    return path


def random_next_request(rng: random.Random) -> str:
    value = rng.choice(NEXT_VALUES) if rng.random() < 0.7 else random_path(rng)
    encoded = quote(value.encode("utf-8", "surrogateescape"), safe="") if rng.random() < 0.8 else value
    return f"{rng.choice(NEXT_PAGES)}?next={encoded}"


def random_cookies(rng: random.Random, session: str) -> str:
    """No cookie, the logged-in user's session, a tampered one or junk; sometimes a CSRF cookie too."""
    tampered = session[:-4] + random_text(rng, string.ascii_lowercase + string.digits, 4).ljust(4, "x")
    choices = [
        None,
        session,
        tampered,
        random_text(rng, string.ascii_letters + string.digits, 40),
        random_text(rng, string.printable.strip() + "éü", 80).replace(";", ""),
        "",
        "x" * 4000,
    ]
    value = rng.choice(choices)
    cookies = [] if value is None else [f"{SESSION_COOKIE}={value}"]
    if rng.random() < 0.3:
        cookies.append(f"{CSRF_COOKIE}={random_text(rng, string.ascii_letters + string.digits, 64)}")
    if rng.random() < 0.1:
        cookies.append(random_text(rng, string.ascii_letters + "=;", 30))
    return "; ".join(cookies)


def request_target(path: str) -> str:
    """The path as a client can send it: a request line holds no control characters or spaces."""
    return "".join(quote(char) if ord(char) <= 0x20 or ord(char) == 0x7F else char for char in path)


def random_request(rng: random.Random, session: str) -> tuple[str, str, dict]:
    method = rng.choices(["GET", "HEAD", "POST"], weights=[85, 5, 10])[0]
    path = request_target(random_path(rng) if rng.random() < 0.6 else random_next_request(rng))
    cookie = random_cookies(rng, session)
    headers = {"Cookie": cookie} if cookie else {}
    if method == "POST":
        headers["Content-Length"] = "0"
    return method, path, headers


def send_batch(requests: list[tuple[str, str, dict]]) -> list[tuple[int | str, str, str]]:
    """Each thread keeps one connection; a failure to get any answer is recorded, not raised."""
    chunks = [requests[index::THREADS] for index in range(THREADS)]

    def send(chunk):
        site, results = RawSite(BASE_URL, verify=VERIFY), []
        try:
            for method, path, headers in chunk:
                try:
                    status = site.request(method, path, headers)[0]
                except Exception as error:  # no answer at all is a finding too
                    status = f"no answer ({type(error).__name__})"
                results.append((status, method, path))
        finally:
            site.close()
        return results

    with ThreadPoolExecutor(THREADS) as pool:
        return [result for results in pool.map(send, chunks) for result in results]


def test_random_paths_cookies_and_next_values_never_get_a_server_error(site, user):
    if not RawSite(BASE_URL, verify=VERIFY).is_loopback():
        pytest.skip("the fuzz sends 5,000 requests: only to a site on this machine's loopback")
    assert site.login(*user).status_code == 302
    seed = int(os.environ.get("E2E_FUZZ_SEED") or random.SystemRandom().randrange(2**32))
    rng = random.Random(seed)  # noqa: S311 (reproducible test input from its seed, no secret)
    statuses, failures = Counter(), []
    for _ in range(FUZZ_REQUESTS // BATCH):
        batch = [random_request(rng, site.session_cookie) for _ in range(BATCH)]
        for status, method, path in send_batch(batch):
            statuses[status] += 1
            if not isinstance(status, int) or status >= 500:
                failures.append(f"{status} {method} {path[:200]!r}")
    histogram = ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items(), key=str))
    assert sum(statuses.values()) == FUZZ_REQUESTS
    assert not failures, (
        f"{len(failures)} of {FUZZ_REQUESTS} got a server error or no answer (E2E_FUZZ_SEED={seed}); "
        f"statuses: {histogram}; first ones:\n" + "\n".join(failures[:20])
    )
    # Most requests must have reached the services, or this proved little.
    assert sum(count for status, count in statuses.items() if status in (200, 302, 403, 404)) > FUZZ_REQUESTS / 3, (
        histogram
    )
    print(f"fuzz statuses (E2E_FUZZ_SEED={seed}): {histogram}")
