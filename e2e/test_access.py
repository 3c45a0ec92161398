"""Groups and per-service access, managed in A's admin and enforced by B, through nginx."""

import re
from html.parser import HTMLParser

from .conftest import create_user_in_admin, new_password, unique

ACCESS_TO_B = "Access to System B · Review"


class FormFields(HTMLParser):
    """The values a browser would submit for the form with the given id."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside, self.select = form_id, False, None
        self.values: dict[str, list[str]] = {}
        self.options: dict[str, dict[str, str]] = {}  # select name -> {label: value}
        self.option_value = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside:
            return
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in {"submit", "button"}:
            if attrs.get("type") != "checkbox":
                self.values.setdefault(name, []).append(attrs.get("value") or "")
            elif "checked" in attrs:
                self.values.setdefault(name, []).append(attrs.get("value") or "on")
        elif tag == "select":
            self.select = name
            self.options.setdefault(name, {})
        elif tag == "option" and self.select:
            self.option_value = attrs["value"]
            if "selected" in attrs:
                self.values.setdefault(self.select, []).append(attrs["value"])

    def handle_data(self, data):
        if self.option_value is not None:
            self.options[self.select][data.strip()] = self.option_value
            self.option_value = None

    def handle_endtag(self, tag):
        if tag == "select":
            self.select = None
        elif tag == "form":
            self.inside = False


def read_form(site, path: str, form_id: str) -> FormFields:
    fields = FormFields(form_id)
    fields.feed(site.get(path).text)
    return fields


def save_form(site, path: str, values: dict) -> None:
    response = site.post_form(path, values, allow_redirects=False)
    assert response.status_code == 302, response.text[:3000]


def create_group_in_a(admin_site, name: str, permissions: list[str]) -> None:
    path = "/a/admin/auth/group/add/"
    labels = read_form(admin_site, path, "group_form").options["permissions"]
    ids = [value for label, value in labels.items() if label.endswith(tuple(permissions))]
    assert len(ids) == len(permissions), labels
    save_form(admin_site, path, {"name": name, "permissions": ids})


def change_user_in_a(admin_site, user_id: str, *, staff=None, join=(), leave=()) -> None:
    path = f"/a/admin/sso_shared/user/{user_id}/change/"
    form = read_form(admin_site, path, "user_form")
    values = dict(form.values)
    group_ids = form.options["groups"]
    values["groups"] = [g for g in values.get("groups", []) if g not in {group_ids[name] for name in leave}]
    values["groups"] += [group_ids[name] for name in join]
    if staff:
        values["is_staff"] = ["on"]
    save_form(admin_site, path, values)


def test_a_group_made_in_as_admin_grants_rights_in_bs_admin(admin_site, site):
    username, password = unique("reviewer"), new_password()
    user_id = create_user_in_admin(admin_site, username, password)
    group = unique("Reviewers")
    create_group_in_a(admin_site, group, ["| Can add review", "| Can view review"])
    change_user_in_a(admin_site, user_id, staff=True, join=[group])

    site.login(username, password)
    assert site.get("/b/admin/review/review/").status_code == 200
    assert site.get("/b/admin/review/review/add/").status_code == 200
    assert site.get("/b/admin/auth/group/").status_code == 403


def test_a_user_kept_off_b_gets_a_403_page_there_and_can_still_use_a(admin_site, site):
    username, password = unique("intake-only"), new_password()
    user_id = create_user_in_admin(admin_site, username, password)
    change_user_in_a(admin_site, user_id, leave=[ACCESS_TO_B])

    answer = site.login(username, password, next_url="/b/")
    assert answer.headers["Location"] == "/b/"
    page = site.get("/b/", allow_redirects=False)
    assert page.status_code == 403
    assert "<h1>No access to System B · Review</h1>" in page.text
    assert re.search(r'<a class="usable-service" href="/a/">Go to System A · Intake</a>', page.text)
    assert site.get("/a/", allow_redirects=False).status_code == 200
    assert site.whoami("b") == {"service": "b", "authenticated": True, "username": username}
