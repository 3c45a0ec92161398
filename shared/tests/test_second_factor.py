"""The second factor (sso_shared.second_factor.rules): the login's two steps, codes, the two-factor page,
the requirement setting, the admin's reset and the services' agreement on it.

What a person sees, through Django's test client against PostgreSQL. Through nginx and a real
browser (passkeys with Chromium's virtual authenticator): e2e/test_second_factor.py and the walkthrough.
"""

import time

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.db import connections
from django.test import override_settings
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from sso_shared.agreement.compare import Record, disagreements
from sso_shared.agreement.fingerprint import current_fingerprint
from sso_shared.database.routers import SERVICE_DB, SHARED_DB, SHARED_MIGRATIONS_DB, SHARED_SCHEMA, migrations_alias
from sso_shared.models import AuditEvent, Session
from sso_shared.second_factor import rules as second_factor

pytestmark = [pytest.mark.django_db(databases="__all__"), pytest.mark.urls("tests.urls_accounts")]
User = get_user_model()
PASSWORD = "a-long-password-1"
LIMIT = 3
ADDRESS = "192.0.2.24"
LOGIN, SECOND_STEP, TWO_FACTOR = "/accounts/login/", "/accounts/login/second-step/", "/accounts/two-factor/"


@pytest.fixture(autouse=True)
def fast(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.LOGIN_REDIRECT_URL = "/a/"
    # django-otp's own slowdown after a wrong code (1, 2, 4 s ...) is tested once, below.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


@pytest.fixture
def carol():
    return User.objects.create_user("carol", email="carol@example.test", password=PASSWORD)


@pytest.fixture
def app(carol):
    return TOTPDevice.objects.create(user=carol, name="Authenticator app", confirmed=True)


def code(device, offset_steps=0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset_steps * device.step
    return f"{totp.token():06d}"


def post(client, path, data, address=ADDRESS):
    return client.post(path, data, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=address)


def first_step(client, username="carol", password=PASSWORD, address=ADDRESS, next_url=""):
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return post(client, LOGIN, data, address)


def logged_in_user_id(client):
    return client.session.get(SESSION_KEY)


def kinds(user=None):
    events = AuditEvent.objects.using(SHARED_DB).order_by("time", "id")
    if user is not None:
        events = events.filter(username=user.get_username())
    return list(events.values_list("kind", flat=True))


# --- where the devices live --------------------------------------------------------


@pytest.mark.parametrize("model", [TOTPDevice, StaticDevice, StaticToken, WebAuthnCredential])
def test_second_factors_live_in_the_shared_schema_so_every_service_agrees(model):
    assert migrations_alias(model._meta.app_label) == SHARED_MIGRATIONS_DB
    with connections[SERVICE_DB].cursor() as cursor:
        cursor.execute("SELECT schemaname FROM pg_tables WHERE tablename = %s", [model._meta.db_table])
        assert cursor.fetchall() == [(SHARED_SCHEMA,)]


# --- the login: two steps, one session ----------------------------------------------


def test_without_a_second_factor_the_password_logs_in_at_once(client, carol):
    response = first_step(client)
    assert response.status_code == 302 and response["Location"] == "/a/"
    assert logged_in_user_id(client) == str(carol.pk)


def test_the_password_alone_gives_a_second_step_and_no_logged_in_session(client, app):
    response = first_step(client, next_url="/b/reviews/")
    assert response.status_code == 302 and response["Location"] == SECOND_STEP
    # Nobody is logged in yet: no service sees a user, the session row names none.
    assert logged_in_user_id(client) is None
    assert Session.objects.get(pk=client.session.session_key).user_id is None
    assert client.get("/whoami").json()["authenticated"] is False
    page = client.get(SECOND_STEP)
    assert page.status_code == 200
    assert "Log in: second step" in page.content.decode() and "<strong>carol</strong>" in page.content.decode()
    assert kinds() == []  # neither a login nor a failure so far


def test_the_right_code_logs_in_and_goes_on_to_next(client, app, carol):
    first_step(client, next_url="/b/reviews/")
    pending_key = client.session.session_key
    response = post(client, SECOND_STEP, {"code": code(app)})
    assert response.status_code == 302 and response["Location"] == "/b/reviews/"
    assert logged_in_user_id(client) == str(carol.pk)
    assert client.session[DEVICE_ID_SESSION_KEY] == app.persistent_id
    assert client.session.session_key != pending_key  # a new key at the login, as ever
    assert client.get("/whoami").json() == {"service": "a", "authenticated": True, "username": "carol"}
    assert kinds() == ["login"]


def test_a_code_is_never_accepted_twice(client, app):
    first_step(client)
    used = code(app)
    assert post(client, SECOND_STEP, {"code": used}).status_code == 302
    other = type(client)()
    first_step(other)
    response = post(other, SECOND_STEP, {"code": used})
    assert response.status_code == 200
    assert "That code is not right, or was used already" in response.content.decode()
    assert logged_in_user_id(other) is None
    # The next code (the app's next 30 seconds) works.
    assert post(other, SECOND_STEP, {"code": code(app, offset_steps=1)}).status_code == 302


def test_wrong_codes_count_toward_the_same_lockout_as_wrong_passwords_and_are_audited(client, app, carol):
    assert first_step(client, password="wrong").status_code == 200  # one wrong password
    first_step(client)
    assert post(client, SECOND_STEP, {"code": "000000"}).status_code == 200
    locked = post(client, SECOND_STEP, {"code": "111111"})  # the third failure: LIMIT reached
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    assert kinds() == ["login_failed", "second_factor_failed", "second_factor_failed", "locked_out"]
    # Locked: even the right code is refused without being looked at, and that counts again.
    refused = post(client, SECOND_STEP, {"code": code(app)})
    assert refused.status_code == 429
    assert logged_in_user_id(client) is None
    assert kinds()[-1] == "locked_out"
    # The right password too, like any locked login; another address is not affected.
    assert first_step(type(client)()).status_code == 429
    elsewhere = type(client)()
    first_step(elsewhere, address="198.51.100.9")
    assert post(elsewhere, SECOND_STEP, {"code": code(app, offset_steps=1)}, "198.51.100.9").status_code == 302


def test_a_successful_second_step_clears_the_failures_like_a_login(client, app):
    first_step(client)
    post(client, SECOND_STEP, {"code": "000000"})
    post(client, SECOND_STEP, {"code": code(app)})
    other = type(client)()
    first_step(other)
    assert post(other, SECOND_STEP, {"code": "000000"}).status_code == 200
    assert post(other, SECOND_STEP, {"code": "000001"}).status_code == 200  # two after the reset: not locked


def test_a_recovery_code_logs_in_once(client, app, carol):
    codes = second_factor.new_recovery_codes(carol)
    first_step(client)
    response = post(client, SECOND_STEP, {"code": codes[0].upper()[:4] + "-" + codes[0][4:]})
    assert response.status_code == 302 and logged_in_user_id(client) == str(carol.pk)
    assert kinds() == ["login", "recovery_code_used"]
    assert second_factor.recovery_codes_left(carol) == len(codes) - 1
    other = type(client)()
    first_step(other)
    assert post(other, SECOND_STEP, {"code": codes[0]}).status_code == 200
    assert logged_in_user_id(other) is None


def test_django_otps_own_slowdown_says_how_long_to_wait(client, app, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 30
    first_step(client)
    post(client, SECOND_STEP, {"code": "000000"})
    response = post(client, SECOND_STEP, {"code": code(app)})
    assert "Too many wrong codes: wait" in response.content.decode()
    assert logged_in_user_id(client) is None


def test_the_second_step_waits_five_minutes_at_most(client, app):
    first_step(client)
    session = client.session
    session[second_factor.PENDING_KEY]["since"] -= second_factor.PENDING_SECONDS + 1
    session.save()
    response = post(client, SECOND_STEP, {"code": code(app)})
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert logged_in_user_id(client) is None


def test_a_password_changed_meanwhile_ends_the_pending_login(client, app, carol):
    first_step(client)
    carol.set_password("another-long-password-2")
    carol.save()
    response = post(client, SECOND_STEP, {"code": code(app)})
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert logged_in_user_id(client) is None


def test_without_a_pending_login_the_second_step_sends_to_the_login(client, app):
    response = post(client, SECOND_STEP, {"code": code(app)})
    assert response.status_code == 302 and response["Location"] == LOGIN


# --- the two-factor page --------------------------------------------------------------


def test_setting_up_an_authenticator_app(client, carol):
    client.force_login(carol)
    other = type(client)()
    other.force_login(carol)
    page = client.get(TWO_FACTOR).content.decode()
    assert "Second factor:\n    " in page and 'class="status-off">off' in page
    client.post(TWO_FACTOR, {"action": "start_totp"})
    page = client.get(TWO_FACTOR).content.decode()
    device = TOTPDevice.objects.get(user=carol)
    assert not device.confirmed
    # The otpauth:// link as text (to type into an app on an air-gapped site) and as a QR code drawn here.
    assert "otpauth://totp/One%20login%3Acarol?secret=" in page
    assert '<svg width="' in page and "<title>QR code of the set-up link</title>" in page
    wrong = client.post(TWO_FACTOR, {"action": "confirm_totp", "code": "000000"})
    assert wrong.status_code == 400 and "That code is not right" in wrong.content.decode()
    done = client.post(TWO_FACTOR, {"action": "confirm_totp", "code": code(device)}, follow=True)
    page = done.content.decode()
    assert "Authenticator app set up" in page and 'class="status-on">on' in page
    # The recovery codes, shown once.
    shown = [StaticToken.objects.filter(device__user=carol).values_list("token", flat=True)]
    assert 'data-testid="recovery-codes"' in page and all(token in page for token in shown[0])
    assert len(shown[0]) == second_factor.RECOVERY_CODE_COUNT
    again = client.get(TWO_FACTOR).content.decode()
    assert 'data-testid="recovery-codes"' not in again and f"{second_factor.RECOVERY_CODE_COUNT} unused" in again
    # This session passed the new factor; every other one of carol's is logged out.
    assert client.session[DEVICE_ID_SESSION_KEY]
    assert other.get("/whoami").json()["authenticated"] is False
    assert kinds(carol)[2:] == ["totp_added", "recovery_codes_made", "session_revoked"]  # after two logins


def test_turning_it_off_takes_a_code(client, app, carol):
    codes = second_factor.new_recovery_codes(carol)
    client.force_login(carol)
    wrong = post(client, TWO_FACTOR, {"action": "turn_off", "code": "123456"})
    assert wrong.status_code == 400 and "That code is not right" in wrong.content.decode()
    assert second_factor.has_second_factor(carol)
    post(client, TWO_FACTOR, {"action": "turn_off", "code": codes[1]})
    assert not second_factor.has_second_factor(carol)
    assert not StaticDevice.objects.filter(user=carol).exists()
    assert kinds(carol)[1:] == ["second_factor_failed", "second_factor_off"]  # after the login
    assert first_step(type(client)()).status_code == 302  # the password alone again


def test_the_only_factor_is_not_removed_but_turned_off(client, app, carol):
    client.force_login(carol)
    page = client.post(TWO_FACTOR, {"action": "remove_totp"}, follow=True).content.decode()
    assert "That is your only second factor" in page
    assert TOTPDevice.objects.filter(user=carol).exists()


def test_new_recovery_codes_replace_the_old_ones(client, app, carol):
    old = second_factor.new_recovery_codes(carol)
    client.force_login(carol)
    page = client.post(TWO_FACTOR, {"action": "new_recovery_codes"}, follow=True).content.decode()
    new = list(StaticToken.objects.filter(device__user=carol).values_list("token", flat=True))
    assert all(token in page for token in new) and not set(old) & set(new)


def test_the_header_links_the_two_factor_page_on_a(client, carol):
    client.force_login(carol)
    link = '<a class="two-factor-link" href="/a/accounts/two-factor/">Two-factor</a>'
    assert link in client.get("/").content.decode()


def test_reached_by_ip_address_the_page_says_passkeys_need_a_name(client, carol):
    client.force_login(carol)
    page = client.get(TWO_FACTOR, HTTP_HOST="127.0.0.1").content.decode()
    assert 'data-testid="passkeys-need-a-name"' in page
    answer = client.post("/accounts/two-factor/passkeys/begin/", HTTP_HOST="127.0.0.1")
    assert answer.status_code == 400 and answer.json()["code"] == "needs_host_name"
    by_name = client.post("/accounts/two-factor/passkeys/begin/", HTTP_HOST="localhost")
    assert by_name.status_code == 200 and by_name.json()["rp"]["id"] == "localhost"


# --- the requirement -----------------------------------------------------------------


@override_settings(SSO_SECOND_FACTOR="staff")
def test_staff_without_a_second_factor_are_sent_to_set_one_up_first(client, carol):
    staff = User.objects.create_user("sam", password=PASSWORD, is_staff=True)
    client.force_login(staff)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/a/accounts/two-factor/"
    page = client.get(TWO_FACTOR).content.decode()
    assert "Your account needs a second factor" in page and 'data-testid="required"' in page
    ordinary = type(client)()
    ordinary.force_login(carol)
    assert ordinary.get("/").status_code == 200


@override_settings(SSO_SECOND_FACTOR="everyone")
def test_a_required_user_cannot_turn_it_off(client, app, carol):
    codes = second_factor.new_recovery_codes(carol)
    first_step(client)
    post(client, SECOND_STEP, {"code": code(app)})
    assert client.get("/").status_code == 200
    page = post(client, TWO_FACTOR, {"action": "turn_off", "code": codes[0]}).content.decode()
    assert second_factor.has_second_factor(carol)
    assert "this site requires it" in client.get(TWO_FACTOR).content.decode() or "Not possible" in page


@override_settings(SSO_SECOND_FACTOR="everyone")
def test_a_session_that_skipped_the_second_step_is_logged_out_when_it_is_required(client, app, carol):
    client.force_login(carol)  # as a session from before the requirement would be
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/a/accounts/login/?next=/")
    assert logged_in_user_id(client) is None


def test_no_query_is_added_to_an_ordinary_page(client, carol, django_assert_max_num_queries):
    client.force_login(carol)
    client.get("/")
    shared = connections[SHARED_DB]
    with override_settings(SSO_SECOND_FACTOR="staff"), django_assert_max_num_queries(3, connection=shared):
        assert client.get("/").status_code == 200


# --- the admin's reset -----------------------------------------------------------------


def test_an_admin_resets_a_second_factor_and_it_is_audited(client, app, carol):
    second_factor.new_recovery_codes(carol)
    carol_client = type(client)()
    first_step(carol_client)
    post(carol_client, SECOND_STEP, {"code": code(app)})
    admin = User.objects.create_superuser("root", password=PASSWORD)
    client.force_login(admin)
    action = {"action": "reset_second_factor", "_selected_action": [carol.pk]}
    response = post(client, "/admin/sso_shared/user/", action)
    assert response.status_code == 302
    assert not second_factor.has_second_factor(carol) and not StaticDevice.objects.filter(user=carol).exists()
    assert carol_client.get("/whoami").json()["authenticated"] is False  # logged out everywhere
    events = AuditEvent.objects.filter(user_id=carol.pk, kind__in=["second_factor_reset", "session_revoked"])
    assert [(event.kind, event.address) for event in events] == [
        ("second_factor_reset", ADDRESS),
        ("session_revoked", ADDRESS),
    ]
    # The password alone logs carol in again.
    assert first_step(type(client)()).status_code == 302


def test_the_device_admin_pages_are_not_shown(client):
    client.force_login(User.objects.create_superuser("root", password=PASSWORD))
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert client.get("/admin/otp_static/staticdevice/").status_code == 404


# --- both services agree ------------------------------------------------------------------


def fingerprint(**settings) -> dict:
    with override_settings(**settings):
        return current_fingerprint()


def test_services_disagreeing_on_the_requirement_are_caught():
    system_a = Record("system_a", fingerprint(SSO_SECOND_FACTOR="staff"))
    system_b = Record("system_b", fingerprint(SSO_SECOND_FACTOR="optional"))
    [finding] = disagreements(system_b, [system_a])
    assert finding.is_error and finding.message.startswith("SSO_SECOND_FACTOR of system_b differs from system_a")


def test_a_service_that_does_not_hold_users_to_it_is_caught():
    system_a = Record("system_a", fingerprint(SSO_SECOND_FACTOR="everyone"))
    without = Record("system_b", fingerprint(SSO_SECOND_FACTOR="everyone", MIDDLEWARE=[]))
    assert [f.is_error for f in disagreements(without, [system_a])] == [True]
    # A service whose record predates the setting (an older release) is caught when it is required ...
    older = Record("system_b", {k: v for k, v in system_a.fingerprint.items() if k != "SSO_SECOND_FACTOR"})
    [finding] = disagreements(system_a, [older])
    assert "system_b records no SSO_SECOND_FACTOR" in finding.hint
    # ... and not when it is optional (nothing to hold anyone to).
    optional = Record("system_a", fingerprint(SSO_SECOND_FACTOR="optional"))
    assert disagreements(optional, [older]) == []
