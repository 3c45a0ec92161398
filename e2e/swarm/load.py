"""Bounded load through nginx on loopback while the swarm changes under it: every answer recorded.

Reader threads, each with a session of its own, ask both services who they are, over and over;
one login thread logs in afresh each round (a POST to A) and checks the new session on B;
optional posters file intake requests on A without pause (a POST nginx may never pass on twice).
A request counts as failed when it gets no answer, an answer outside 2xx/3xx, or an anonymous
whoami for a logged-in session (a lost session).
"""

import threading
import time
from dataclasses import dataclass, field

import requests

from ..client import CSRF_COOKIE, SiteClient

# Logins hash a password (PBKDF2): slow on a busy machine, so generous; never a failure by itself.
TIMEOUT = 60
MAX_SECONDS = 600
# A login answered "busy" (429) is tried again after its Retry-After, this many times at most.
BUSY_TRIES = 30


@dataclass
class Answer:
    kind: str  # "a", "b" (a reader's whoami), "login" or "post" (a new intake request on A)
    started: float
    ended: float
    ok: bool
    detail: str


@dataclass
class Load:
    base_url: str
    username: str
    password: str
    readers: int = 3
    posters: int = 0
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._read, daemon=True) for _ in range(self.readers)]
        self._threads.append(threading.Thread(target=self._log_in_again_and_again, daemon=True))
        self._threads += [threading.Thread(target=self._file_requests, daemon=True) for _ in range(self.posters)]

    def __enter__(self):
        self._deadline = time.monotonic() + MAX_SECONDS
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(TIMEOUT + 5)

    def _record(self, kind, started, ok, detail):
        with self._lock:
            self.answers.append(Answer(kind, started, time.monotonic(), ok, detail))

    def _running(self):
        return not self._stop.is_set() and time.monotonic() < self._deadline

    def _logged_in_client(self) -> SiteClient:
        client = SiteClient(self.base_url)
        started = time.monotonic()
        login = client.url("/a/accounts/login/")
        try:
            client.http.get(login, timeout=TIMEOUT).raise_for_status()
            form = {
                "csrfmiddlewaretoken": client.http.cookies[CSRF_COOKIE],
                "username": self.username,
                "password": self.password,
            }
            # Logins from one address at once meet the login protection's caps (docs/login-protection.md,
            # "Under a flood"): "busy", 429 with Retry-After. A user tries again when told; so do we.
            for _ in range(BUSY_TRIES):
                answer = client.http.post(
                    login, data=form, headers={"Referer": login}, timeout=TIMEOUT, allow_redirects=False
                )
                if answer.status_code != 429 or self._stop.is_set():
                    break
                self._stop.wait(float(answer.headers.get("Retry-After", "1")))
            ok, detail = answer.status_code == 302, f"login {answer.status_code} {answer.text[:160]!r}"
        except (requests.RequestException, KeyError) as error:
            ok, detail = False, f"login {type(error).__name__}"
        self._record("login", started, ok, detail)
        return client

    def _whoami(self, client: SiteClient, service: str):
        started = time.monotonic()
        try:
            answer = client.http.get(client.url(f"/{service}/whoami"), timeout=TIMEOUT, allow_redirects=False)
            if not 200 <= answer.status_code < 400:
                ok, detail = False, f"{service} {answer.status_code} {answer.text[:160]!r}"
            else:
                ok = answer.json().get("username") == self.username
                detail = f"{service} {answer.status_code}" + ("" if ok else " session lost")
        except (requests.RequestException, ValueError) as error:
            ok, detail = False, f"{service} {type(error).__name__}"
        self._record(service, started, ok, detail)

    def _read(self):
        client = self._logged_in_client()
        while self._running():
            for service in ("a", "b"):
                self._whoami(client, service)

    def _log_in_again_and_again(self):
        while self._running():
            client = self._logged_in_client()
            self._whoami(client, "b")
            self._stop.wait(0.5)

    def _file_requests(self):
        client = self._logged_in_client()
        home = client.url("/a/")
        client.http.get(home, timeout=TIMEOUT)
        while self._running():
            started = time.monotonic()
            form = {"csrfmiddlewaretoken": client.http.cookies.get(CSRF_COOKIE, ""), "title": "load", "details": "-"}
            try:
                # Recorded, the page redirects to itself and says so, as a browser shows it (which also
                # takes the message out of the session); anything else (the form again, a 502) failed.
                answer = client.http.post(home, data=form, headers={"Referer": home}, timeout=TIMEOUT)
                first = answer.history[0].status_code if answer.history else answer.status_code
                ok = first == 302 and answer.status_code == 200 and "recorded" in answer.text
                detail = f"post {first} {answer.status_code} {answer.text[:160]!r}"
            except requests.RequestException as error:
                ok, detail = False, f"post {type(error).__name__}"
            self._record("post", started, ok, detail)

    # --- what the tests assert on ---------------------------------------------------------

    def failures(self, kind: str | None = None) -> list[Answer]:
        return [a for a in self.answers if not a.ok and (kind is None or a.kind == kind)]

    def count(self, kind: str, after: float = 0.0) -> int:
        return sum(1 for a in self.answers if a.kind == kind and a.ok and a.started >= after)

    def first_failures(self, limit: int = 5) -> list[str]:
        return [a.detail for a in self.failures()[:limit]]

    def summary(self) -> str:
        kinds = sorted({a.kind for a in self.answers})
        parts = [f"{k}: {sum(a.kind == k for a in self.answers)} sent, {len(self.failures(k))} failed" for k in kinds]
        return "; ".join(parts)
