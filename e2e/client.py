"""A person's browser, as far as requests can play one: cookies, CSRF tokens, forms."""

from urllib.parse import urljoin

import requests

CSRF_COOKIE = "sso_csrftoken"
SESSION_COOKIE = "sso_sessionid"


class SiteClient:
    def __init__(self, base_url: str, verify=True):
        # Passed with every request, not set on the session: requests lets REQUESTS_CA_BUNDLE
        # in the environment override a session's verify (psf/requests#4726).
        self.base_url = base_url
        self.http = requests.Session()
        self.verify = verify

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.url(path), timeout=15, verify=self.verify, **kwargs)

    def post_form(self, path: str, data: dict, **kwargs) -> requests.Response:
        """POST a form the way a browser does after loading it: CSRF token and Referer."""
        if CSRF_COOKIE not in self.http.cookies:
            self.get(path)
        form = {"csrfmiddlewaretoken": self.http.cookies[CSRF_COOKIE], **data}
        return self.http.post(
            self.url(path), data=form, headers={"Referer": self.url(path)}, timeout=15, verify=self.verify, **kwargs
        )

    def login(self, username: str, password: str, next_url: str | None = None) -> requests.Response:
        path = "/a/accounts/login/"
        self.get(path)
        data = {"username": username, "password": password}
        if next_url:
            data["next"] = next_url
        return self.post_form(path, data, allow_redirects=False)

    def logout(self, service: str) -> requests.Response:
        self.get(f"/{service}/whoami")
        return self.post_form(f"/{service}/accounts/logout/", {}, allow_redirects=False)

    def whoami(self, service: str) -> dict:
        response = self.get(f"/{service}/whoami")
        response.raise_for_status()
        return response.json()

    @property
    def session_cookie(self) -> str | None:
        return self.http.cookies.get(SESSION_COOKIE)
