"""Benchmark: logged-in pages and a real user's login while a login flood runs (docs/login-protection.md).

Two phases of --seconds each, against a stack on this machine (loopback only):

1. normal: one logged-in user opens /a/whoami, /a/, /b/whoami and /b/ in turn;
2. flood: the same, while --addresses clients (127.N.M.2, 127.N.M.3, ...; every loopback address is
   this machine, and nginx sees each as another client) each POST the login form with a random
   username and a wrong password, --rate times a second (nginx's per-address rate: each address
   stays within it, so no per-address throttle stops them and no username is ever locked).
   N and M are drawn afresh for each run: the flood starts from addresses the site has never seen
   (no lock or failure left from an earlier run), as a new flood would. The flood's clients run in
   processes of their own, so the threads measuring pages and logins never wait for the flood's GIL,
   at niceness 10: an attacker's own work is not the site's, it only shares this machine's cores.

Meanwhile, in both phases, a real user logs in from an address of their own every few seconds: the
login form, then the POST, honouring a 429's Retry-After (at most --login-patience seconds), as a
person would try again when the page says so. It prints each page's p50 and p99 in both phases and
their ratio, the real user's login times, and how the flood's POSTs were answered. It is a
measurement, not a test: it asserts nothing. Every loop is bounded in time; the flood stops by itself.

    LOGIN_FLOOD_PASSWORD='...' .venv/bin/python scripts/bench_login_flood.py \\
        --base-url http://127.0.0.1:8080/ --username alice [--seconds 30] [--addresses 40] [--rate 2]

The user must exist and may use both services; the password is read from LOGIN_FLOOD_PASSWORD
(never from the command line, where other local users could read it).
"""

import argparse
import ipaddress
import multiprocessing
import os
import secrets
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from e2e.client import SiteClient  # noqa: E402 (after the path is set)

PAGES = ("/a/whoami", "/a/", "/b/whoami", "/b/")
LOGIN = "/a/accounts/login/"
# This run's addresses, unseen by the site: the flood's are 127.N.M.2 and on, the real user's 127.N.M.250.
RUN_NETWORK = ipaddress.ip_address(f"127.{secrets.randbelow(200) + 20}.{secrets.randbelow(256)}.0")
REAL_USER_ADDRESS = str(RUN_NETWORK + 250)
LOGIN_EVERY = 4.0  # seconds between two logins of the real user


class FromAddress(HTTPAdapter):
    """Connections from one local address (any of 127.0.0.0/8 works on loopback)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__(pool_maxsize=2)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_at(base_url: str, address: str) -> SiteClient:
    site = SiteClient(base_url)
    for scheme in ("http://", "https://"):
        site.http.mount(scheme, FromAddress(address))
    return site


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * share), len(ordered) - 1)]


def answer_kind(response) -> str:
    if response.status_code == 429:
        text = response.text
        if 'data-testid="too-many-logins"' in text:
            return "429 nginx throttle"
        if 'data-testid="locked-out"' in text:
            return "429 locked out"
        if 'data-testid="login-busy"' in text:
            return "429 password checks busy"
        return "429 other"
    if response.status_code == 200 and "didn't match" in response.text:
        return "200 wrong password"
    return str(response.status_code)


def measure_pages(site: SiteClient, paths, until: float, timings: dict) -> None:
    while time.monotonic() < until:
        for path in paths:
            started = time.monotonic()
            response = site.get(path, allow_redirects=False)
            elapsed = time.monotonic() - started
            if response.status_code != 200:
                timings.setdefault("errors", Counter())[f"{path} {response.status_code}"] += 1
            timings.setdefault(path, []).append(elapsed)  # one list per path: one thread appends to it


def real_user_logins(base_url, username, password, until, patience, results: list) -> None:
    """Log in every LOGIN_EVERY seconds from a fresh browser; the time from the form to being in."""
    while time.monotonic() < until:
        started = time.monotonic()
        site = client_at(base_url, REAL_USER_ADDRESS)
        outcome = "gave up"
        while time.monotonic() - started < patience:
            response = site.login(username, password)
            if response.status_code == 302:
                outcome = "in"
                break
            if response.status_code != 429:
                outcome = f"answered {response.status_code}"
                break
            wait = float(response.headers.get("Retry-After", "1"))
            time.sleep(min(wait, max(patience - (time.monotonic() - started), 0)))
        results.append((time.monotonic() - started, outcome, started))
        site.logout("a")
        time.sleep(max(LOGIN_EVERY - (time.monotonic() - started), 0.2))


FLOOD_PROCESSES = 2  # the flood's clients in processes of their own: the measuring threads never wait for their GIL
FLOOD_NICENESS = 10


def flood_process(base_url, addresses, rate, seconds, results) -> None:
    """One process of the flood: a thread per address, for this many seconds; its answers go to results.

    At a lower CPU priority: the attacker's own work would not run on the site's machine, only what it
    makes the site do; here it shares the cores with what is measured, and yields them first.
    """
    os.nice(FLOOD_NICENESS)
    until = time.monotonic() + seconds
    answers, lock = Counter(), threading.Lock()
    threads = [
        threading.Thread(target=flooder, args=(base_url, address, rate, until, answers, lock), daemon=True)
        for address in addresses
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 35)
    results.put(dict(answers))


def flooder(base_url, address, rate, until, answers: Counter, lock) -> None:
    site = client_at(base_url, address)
    site.get(LOGIN)  # the CSRF cookie, as a browser loading the form gets it
    interval = 1.0 / rate
    next_at = time.monotonic()
    while time.monotonic() < until:
        try:
            response = site.post_form(
                LOGIN, {"username": f"nobody-{secrets.token_hex(6)}", "password": "wrong-password"}
            )
            kind = answer_kind(response)
        except Exception as error:  # a timeout or reset is an answer too, counted
            kind = type(error).__name__
        with lock:
            answers[kind] += 1
        next_at += interval
        time.sleep(max(next_at - time.monotonic(), 0))


def run_phase(args, password, flood: bool) -> tuple[dict, list, Counter]:
    until = time.monotonic() + args.seconds
    timings, logins, answers = {}, [], Counter()
    site = client_at(args.base_url, "127.0.0.1")
    if site.login(args.username, password).status_code != 302:
        sys.exit(f"could not log {args.username} in: is LOGIN_FLOOD_PASSWORD right, and the address not locked?")
    threads = [
        threading.Thread(
            target=real_user_logins,
            args=(args.base_url, args.username, password, until, args.login_patience, logins),
        )
    ]
    processes, results = [], multiprocessing.Queue()
    if flood:
        addresses = [str(RUN_NETWORK + 2 + index) for index in range(args.addresses)]
        for share in range(FLOOD_PROCESSES):
            flood_args = (args.base_url, addresses[share::FLOOD_PROCESSES], args.rate, args.seconds, results)
            processes.append(multiprocessing.Process(target=flood_process, args=flood_args, daemon=True))
    for process in processes:
        process.start()
    for thread in threads:
        thread.daemon = True
        thread.start()
    time.sleep(min(2.0, args.seconds / 4) if flood else 0)  # the flood under way before measuring
    # Each service's pages in a thread of their own (the same logged-in session), so a slow A
    # does not hide how B answers.
    readers = []
    for service in ("a", "b"):
        reader = client_at(args.base_url, "127.0.0.1")
        reader.http.cookies.update(site.http.cookies)
        paths = [path for path in PAGES if path.startswith(f"/{service}/")]
        readers.append(threading.Thread(target=measure_pages, args=(reader, paths, until, timings)))
    for thread in readers:
        thread.start()
    for thread in readers + threads:
        thread.join(timeout=args.login_patience + 35)
    for _ in processes:
        answers.update(results.get(timeout=60))
    for process in processes:
        process.join(timeout=10)
    site.logout("a")
    return timings, logins, answers


def report(normal, flooded) -> None:
    (normal_pages, normal_logins, _), (flood_pages, flood_logins, answers) = normal, flooded
    print(f"{'page':<12}{'normal p50':>12}{'normal p99':>12}{'flood p50':>12}{'flood p99':>12}{'p99 ratio':>11}  n")
    for path in PAGES:
        before, during = normal_pages.get(path, []), flood_pages.get(path, [])
        ratio = percentile(during, 0.99) / percentile(before, 0.99) if before and during else float("nan")
        print(
            f"{path:<12}{percentile(before, 0.5) * 1000:>10.1f}ms{percentile(before, 0.99) * 1000:>10.1f}ms"
            f"{percentile(during, 0.5) * 1000:>10.1f}ms{percentile(during, 0.99) * 1000:>10.1f}ms"
            f"{ratio:>10.2f}x  {len(before)}/{len(during)}"
        )
    for name, logins in (("normal", normal_logins), ("flood", flood_logins)):
        times = [seconds for seconds, _, _ in logins]
        outcomes = Counter(outcome for _, outcome, _ in logins)
        if times:
            print(
                f"real user's logins ({name}): {len(times)}, median {statistics.median(times):.2f} s, "
                f"max {max(times):.2f} s; {dict(outcomes)}"
            )
            first = logins[0][2]
            print(
                "  each (started at: took): " + ", ".join(f"{at - first:.0f} s: {took:.2f} s" for took, _, at in logins)
            )
    for name, pages in (("normal", normal_pages), ("flood", flood_pages)):
        if pages.get("errors"):
            print(f"pages not answered 200 ({name}): {dict(pages['errors'])}")
    total = sum(answers.values())
    print(f"flood login POSTs: {total} ({total / max(ARGS.seconds, 1):.0f}/s): {dict(answers.most_common())}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8080/")
    parser.add_argument("--username", required=True)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each phase (at most 300)")
    parser.add_argument("--addresses", type=int, default=40, help="flooding client addresses (at most 200)")
    parser.add_argument("--rate", type=float, default=2.0, help="login POSTs per second per address")
    parser.add_argument("--login-patience", type=float, default=30.0, help="the real user gives up after this")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 300 or not 1 <= args.addresses <= 200 or not 0 < args.rate <= 20:
        parser.error("--seconds 1..300, --addresses 1..200, --rate up to 20: the flood stays bounded")
    host = urlsplit(args.base_url).hostname or ""
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        parser.error("the flood is sent to this machine only: --base-url must be a loopback address")
    return args


if __name__ == "__main__":
    ARGS = parse_args()
    PASSWORD = os.environ.get("LOGIN_FLOOD_PASSWORD") or sys.exit("set LOGIN_FLOOD_PASSWORD to the user's password")
    print(
        f"{ARGS.addresses} addresses x {ARGS.rate}/s, {ARGS.seconds:.0f} s per phase, against {ARGS.base_url}; "
        f"flood from {RUN_NETWORK + 2}-{RUN_NETWORK + 1 + ARGS.addresses}, the real user at {REAL_USER_ADDRESS}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    NORMAL = run_phase(ARGS, PASSWORD, flood=False)
    FLOODED = run_phase(ARGS, PASSWORD, flood=True)
    report(NORMAL, FLOODED)
