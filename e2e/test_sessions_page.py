"""Your sessions through the real site: ending a session on A logs that browser out of A and B at once."""

import re

from .client import SiteClient
from .conftest import BASE_URL, VERIFY, manage

PAGE = "/a/accounts/sessions/"
FAKE_FORWARDED = "203.0.113.9"
ROW = re.compile(r'<tr data-session="(?P<id>[0-9a-f]{32})"(?P<current> class="current")?.*?</tr>', re.S)


def logged_in_browser(username: str, password: str, headers: dict | None = None) -> SiteClient:
    client = SiteClient(BASE_URL, verify=VERIFY)
    client.http.headers.update(headers or {})
    assert client.login(username, password).status_code == 302
    return client


def listed(client: SiteClient) -> dict[str, str]:
    """The sessions on the page: {id: the row's HTML}, this session's under "current"."""
    response = client.get(PAGE, allow_redirects=False)
    assert response.status_code == 200, response.status_code
    return {"current" if row["current"] else row["id"]: row.group(0) for row in ROW.finditer(response.text)}


def logged_in_on(client: SiteClient) -> tuple[bool, bool]:
    return client.whoami("a")["authenticated"], client.whoami("b")["authenticated"]


def test_ending_a_session_on_the_page_logs_that_browser_out_of_a_and_b_at_once(make_user):
    username, password = make_user("sessions")
    first = logged_in_browser(username, password)
    # Claiming another address: nginx passes the claim on, but the page shows the address nginx saw.
    second = logged_in_browser(username, password, {"X-Forwarded-For": FAKE_FORWARDED})
    assert logged_in_on(second) == (True, True)

    sessions = listed(first)
    [second_id] = [key for key in sessions if key != "current"]
    assert '<td class="service">System A · Intake</td>' in sessions[second_id]
    assert '<td class="browser">Python Requests</td>' in sessions[second_id]
    assert FAKE_FORWARDED not in sessions[second_id]
    assert re.search(r'<td class="address">[0-9a-f.:]+</td>', sessions[second_id]), sessions[second_id]
    assert "This session" in sessions["current"]
    # Both services' headers lead to the page.
    assert f'href="{PAGE}">Your sessions</a>' in second.get("/b/").text

    response = first.post_form(PAGE, {"end": second_id})
    assert "Session ended: that browser is logged out of every service." in response.text
    assert logged_in_on(second) == (False, False)
    assert logged_in_on(first) == (True, True)
    assert list(listed(first)) == ["current"]
    assert manage("a", "sso_audit", "--user", username).splitlines()[-1].split()[1] == "session_revoked"


def test_another_users_session_id_ends_nothing(make_user):
    owner = logged_in_browser(*make_user("owner"))
    owners_id = ROW.search(owner.get(PAGE).text)["id"]  # the owner's session, as the page names it
    intruder = logged_in_browser(*make_user("intruder"))
    response = intruder.post_form(PAGE, {"end": owners_id})
    assert "No such session of yours" in response.text
    assert logged_in_on(owner) == (True, True)
    assert logged_in_on(intruder) == (True, True)


def test_log_out_everywhere_else_keeps_only_this_session(make_user):
    username, password = make_user("everywhere")
    here, laptop, phone = (logged_in_browser(username, password) for _ in range(3))
    assert len(listed(here)) == 3

    response = here.post_form(PAGE, {"end_others": "1"})
    assert "Logged out everywhere else: 2 other sessions ended." in response.text
    assert logged_in_on(laptop) == (False, False)
    assert logged_in_on(phone) == (False, False)
    assert logged_in_on(here) == (True, True)
    assert list(listed(here)) == ["current"]
