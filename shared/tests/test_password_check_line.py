"""Waiting for a password check under a flood: fewer failures at the address go first, a slot kept for them.

sso_shared.login_protection.password_checks (docs/login-protection.md, "Under a flood").
The slots are held here by another
database connection, as busy workers of A, B or another replica would hold them; the waiters are threads
of this process, each with a connection of its own. What is asserted is who gets a slot, and in which
order; never how long anything takes.
"""

import threading
import time

import psycopg2
import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections

from sso_shared.database.routers import SHARED_DB
from sso_shared.login_protection import lockout, password_checks
from sso_shared.login_protection.password_checks import (
    PasswordChecksBusy,
    password_check_slot,
    place_for,
    place_in_line,
)

pytestmark = [pytest.mark.django_db(databases="__all__", transaction=True), pytest.mark.urls("tests.urls_audit")]
User = get_user_model()
PASSWORD = "a-long-password-1"
REAL_USER, FLOODER = "198.51.100.90", "192.0.2.90"
SHARED_SLOT, KEPT_SLOT = 0, 1  # with one check for anyone and one kept for good standing
# Long enough that no waiter in these tests gives up before it is let in (they assert order, not speed).
PATIENT = 20.0


@pytest.fixture(autouse=True)
def limits(settings):
    settings.AXES_FAILURE_LIMIT = 3  # good standing: fewer than 3 failures at the address
    settings.SSO_ADDRESS_FAILURE_LIMIT = 10
    settings.SSO_PASSWORD_CHECKS_AT_ONCE = 1
    settings.SSO_PASSWORD_CHECKS_KEPT_FOR_GOOD_STANDING = 1
    settings.SSO_PASSWORD_CHECK_WAIT_SECONDS = PATIENT


class OtherProcess:
    """A connection of its own, holding slots as another worker would."""

    def __init__(self):
        database = connections[SHARED_DB].settings_dict
        self.connection = psycopg2.connect(
            host=database["HOST"],
            port=database["PORT"],
            user=database["USER"],
            password=database["PASSWORD"],
            dbname=database["NAME"],
        )
        self.connection.autocommit = True

    def hold(self, *slots):
        with self.connection.cursor() as cursor:
            for slot in slots:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [password_checks.SLOTS_LOCK_KEY, slot])

    def release(self, slot):
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [password_checks.SLOTS_LOCK_KEY, slot])

    def places_waiting(self) -> list[int]:
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = %s",
                [password_checks.WAITERS_LOCK_KEY],
            )
            return sorted(row[0] for row in cursor.fetchall())

    def wait_until_waiting(self, places: list[int], unless: threading.Event | None = None) -> bool:
        """Until exactly these places (place_for) wait in line."""
        for _ in range(400):
            if unless is not None and unless.is_set():
                return False
            if self.places_waiting() == sorted(places):
                return True
            time.sleep(0.05)
        raise AssertionError(f"waiting: {self.places_waiting()}, expected {places}")


@pytest.fixture
def other():
    process = OtherProcess()
    yield process
    process.connection.close()


class Waiter(threading.Thread):
    """A password check at a place in line, in a thread (a worker of its own); notes when it got a slot."""

    def __init__(self, name: str, place: int, order: list, release: threading.Event):
        super().__init__(name=name, daemon=True)
        self.place, self.order, self.release, self.outcome = place, order, release, None

    def run(self):
        try:
            with place_in_line(self.place), password_check_slot():
                self.order.append(self.name)
                self.release.wait(PATIENT)
            self.outcome = "checked"
        except PasswordChecksBusy:
            self.outcome = "busy"
        finally:
            connection.close()


def test_fewer_failures_at_the_address_go_first(other):
    other.hold(SHARED_SLOT, KEPT_SLOT)
    order, release = [], threading.Event()
    flooder = Waiter("flooder", place=place_for(wrong_passwords=2), order=order, release=release)
    flooder.start()
    other.wait_until_waiting([place_for(2)])
    real_user = Waiter("real user", place=place_for(wrong_passwords=0), order=order, release=release)
    real_user.start()
    other.wait_until_waiting([place_for(0), place_for(2)])
    # The first slot given back goes to the one with fewer failures, though it came second.
    other.release(KEPT_SLOT)
    for _ in range(400):
        if order:
            break
        time.sleep(0.05)
    assert order == ["real user"]
    other.release(SHARED_SLOT)
    release.set()
    real_user.join(PATIENT)
    flooder.join(PATIENT)
    assert order == ["real user", "flooder"]
    assert real_user.outcome == flooder.outcome == "checked"


def test_an_address_that_fails_often_never_gets_the_kept_slot(other, settings):
    settings.SSO_PASSWORD_CHECK_WAIT_SECONDS = 0.3  # the one refused often may wait: not for the kept slot
    other.hold(SHARED_SLOT)
    # In good standing (a few wrong passwords and refusals): the kept slot is free for it.
    with place_in_line(place_for(wrong_passwords=2, refusals=1)), password_check_slot():
        pass
    # As many wrong passwords, or refusals, as lock one account: the shared slot is taken, the kept one not for it.
    with place_in_line(place_for(wrong_passwords=3)), pytest.raises(PasswordChecksBusy), password_check_slot():
        pass
    with place_in_line(place_for(0, refusals=2)), pytest.raises(PasswordChecksBusy), password_check_slot():
        pass


def test_an_address_that_fails_often_does_not_wait_in_line(other):
    other.hold(SHARED_SLOT, KEPT_SLOT)
    # Someone else gives a slot back as soon as anyone waits: a check that waited would get it.
    done = threading.Event()

    def give_back_once_someone_waits():
        if other.wait_until_waiting([place_for(3)], unless=done):
            other.release(SHARED_SLOT)

    gives_back = threading.Thread(target=give_back_once_someone_waits, daemon=True)
    gives_back.start()
    try:
        with place_in_line(place_for(3)), pytest.raises(PasswordChecksBusy), password_check_slot():
            pass
    finally:
        done.set()
        gives_back.join(PATIENT)
    assert other.places_waiting() == []


def test_the_line_keeps_the_best_places(other):
    other.hold(SHARED_SLOT, KEPT_SLOT)
    order, release = [], threading.Event()
    waiters = [Waiter(f"waiter {n}", place=place_for(2), order=order, release=release) for n in range(2)]
    for waiter in waiters:
        waiter.start()
    other.wait_until_waiting([place_for(2)] * 2)  # the room: one per slot
    # As many failures as those waiting: no room, refused at once.
    with place_in_line(place_for(2)), pytest.raises(PasswordChecksBusy), password_check_slot():
        pass
    # Fewer: joins them; the line now too long, the last ones leave it (refused), and it is let in first.
    real_user = Waiter("real user", place=place_for(1), order=order, release=release)
    real_user.start()
    for waiter in waiters:
        waiter.join(PATIENT)
    assert [waiter.outcome for waiter in waiters] == ["busy", "busy"]
    assert other.places_waiting() == [place_for(1)]
    other.release(SHARED_SLOT)
    release.set()
    real_user.join(PATIENT)
    assert (order, real_user.outcome) == (["real user"], "checked")


def test_a_login_waits_in_line_for_a_slot_instead_of_being_refused(client, other):
    User.objects.create_user("dora", password=PASSWORD)
    other.hold(SHARED_SLOT, KEPT_SLOT)

    def give_one_back_once_someone_waits():
        other.wait_until_waiting([place_for(0)])
        other.release(KEPT_SLOT)

    helper = threading.Thread(target=give_one_back_once_someone_waits, daemon=True)
    helper.start()
    response = client.post("/accounts/login/", {"username": "dora", "password": PASSWORD}, REMOTE_ADDR=REAL_USER)
    helper.join(PATIENT)
    assert response.status_code == 302
    assert client.get("/whoami").json()["authenticated"] is True


def test_a_flooding_address_gets_the_busy_page_while_a_real_user_logs_in(client, other):
    """The shared check taken (by the flood), the kept one free: only the address in good standing gets it."""
    User.objects.create_user("dora", password=PASSWORD)
    for number in range(3):  # three wrong passwords at the flooding address: no longer in good standing
        log_in(client, f"random-{number}", "wrong", FLOODER)
    other.hold(SHARED_SLOT)
    refused = log_in(client, "dora", PASSWORD, FLOODER)
    assert refused.status_code == 429 and 'data-testid="login-busy"' in refused.content.decode()
    assert refused["Retry-After"] == str(password_checks.RETRY_AFTER_SECONDS)
    assert lockout.address_failures(FLOODER) == 4  # counted
    assert log_in(client, "dora", PASSWORD, REAL_USER).status_code == 302


def test_a_real_user_refused_while_a_flood_begins_still_waits_in_line(client, other):
    """Refused many times (every slot busy), never a wrong password: no kept slot, but a place in line."""
    User.objects.create_user("dora", password=PASSWORD)
    for _ in range(8):  # more refusals than LOGIN_FAILURE_LIMIT, fewer than lock the address
        lockout.count_refused_at(request_from(REAL_USER))
    other.hold(SHARED_SLOT)  # the kept one is free, but not hers now

    def give_the_shared_one_back_once_she_waits():
        other.wait_until_waiting([place_for(0, refusals=8)])
        other.release(SHARED_SLOT)

    helper = threading.Thread(target=give_the_shared_one_back_once_she_waits, daemon=True)
    helper.start()
    assert log_in(client, "dora", PASSWORD, REAL_USER).status_code == 302
    helper.join(PATIENT)


def test_refusals_order_only_those_with_as_many_wrong_passwords(other):
    """And out of good standing, no check starts while a kept slot (a real user's) is taken."""
    other.hold(SHARED_SLOT, KEPT_SLOT)
    order, release = [], threading.Event()
    failed_a_check = Waiter("failed a check", place=place_for(1, refusals=3), order=order, release=release)
    failed_a_check.start()
    other.wait_until_waiting([place_for(1, refusals=3)])
    often_refused = Waiter("often refused", place=place_for(0, refusals=8), order=order, release=release)
    often_refused.start()
    other.wait_until_waiting([place_for(0, refusals=8), place_for(1, refusals=3)])
    other.release(SHARED_SLOT)
    time.sleep(0.5)  # ten looks of each waiter: the kept slot is still taken
    assert order == []
    other.release(KEPT_SLOT)
    for _ in range(400):
        if order:
            break
        time.sleep(0.05)
    assert order == ["often refused"]
    release.set()
    for waiter in (often_refused, failed_a_check):
        waiter.join(PATIENT)
    assert order == ["often refused", "failed a check"]


def log_in(client, username, password, address):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def request_from(address: str):
    from django.test import RequestFactory

    return RequestFactory().post("/accounts/login/", REMOTE_ADDR=address)
