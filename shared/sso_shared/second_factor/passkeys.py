"""Passkeys (WebAuthn) as a second factor, through django-otp-webauthn.

The relying party is the host name the browser used, and the origin its scheme, host and port:
Django has checked that host against ALLOWED_HOSTS (SERVER_NAMES), and nginx passes the Host the
browser sent, so a page reached at ``http://localhost:8080`` registers and uses passkeys of
``localhost`` there. An IP address cannot be a relying party (browsers refuse it): reached by
address, the pages say that passkeys need the site's name. A passkey made under one name works
under that name only (docs/login-protection.md, "Passkeys").

Registering (the two-factor page) is django-otp-webauthn's own ceremony, for the logged-in
user. Using one is only ever the login's second step here, never a login without a password
(``OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False``): the ceremony is for the user of the
session's pending login (``sso_shared.second_factor.rules.pending_login``), and a failed one counts
toward the lockout like a wrong code.
"""

import ipaddress

from django.http import JsonResponse
from django.http.request import split_domain_port
from django_otp_webauthn import exceptions
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.views import (
    BeginCredentialAuthenticationView,
    BeginCredentialRegistrationView,
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)

from sso_shared.operations import audit
from sso_shared.second_factor import rules as second_factor


def relying_party_id(request) -> str:
    """The host name of this request (one of SERVER_NAMES), or "" when it was reached by IP address."""
    domain, _port = split_domain_port(request.get_host())
    try:
        ipaddress.ip_address(domain.strip("[]"))
    except ValueError:
        return domain
    return ""


def origin(request) -> str:
    return f"{request.scheme}://{request.get_host()}"


class NeedsHostName(exceptions.OTPWebAuthnApiError):
    status_code = 400
    default_detail = "Passkeys need the site opened by its name (for example localhost), not by an IP address."
    default_code = "needs_host_name"


class PasskeyHelper(WebAuthnHelper):
    """django-otp-webauthn's helper, its relying party and origin taken from the request."""

    def get_relying_party_domain(self) -> str:
        rp_id = relying_party_id(self.request)
        if not rp_id:
            raise NeedsHostName()
        return rp_id

    def get_allowed_origins(self) -> list[str]:
        return [origin(self.request)]


class SessionVerifiedMixin:
    """django-otp-webauthn asks ``user.is_verified()``, which django-otp's middleware would add at the
    cost of a query per page; here the session says it (sso_shared.second_factor.rules)."""

    def initial(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            request.user.is_verified = lambda: second_factor.session_passed_second_factor(request)
        super().initial(request, *args, **kwargs)


class RegisterBegin(SessionVerifiedMixin, BeginCredentialRegistrationView):
    pass


class RegisterComplete(SessionVerifiedMixin, CompleteCredentialRegistrationView):
    """A passkey added on the two-factor page: audited; the first factor brings recovery codes."""

    def post(self, *args, **kwargs):
        user = self.get_user()
        first = not second_factor.has_second_factor(user)
        response = super().post(*args, **kwargs)
        device = second_factor.passkeys().get(pk=self.registered_id(response))
        second_factor.factor_added(self.request, user, device, first=first)
        return response

    @staticmethod
    def registered_id(response) -> int:
        import json

        return json.loads(response.content)["id"]


class PendingLoginMixin:
    """The ceremony belongs to the user who passed the password in this session, and no one else."""

    def get_user(self):
        self.pending = second_factor.pending_login(self.request)
        return self.pending.user if self.pending else None


class LoginBegin(PendingLoginMixin, BeginCredentialAuthenticationView):
    pass


class LoginComplete(PendingLoginMixin, CompleteCredentialAuthenticationView):
    """The second step with a passkey: logs in like a right code; a failure counts like a wrong one."""

    def post(self, *args, **kwargs):
        pending = second_factor.pending_login(self.request)
        if pending is None:
            raise exceptions.InvalidState()
        if second_factor.lockout_refuses(self.request, pending.username):
            second_factor.count_refused(self.request, pending.username, second_factor.PASSKEY)
            return JsonResponse({"detail": "Too many failed logins: try again later.", "code": "locked"}, status=429)
        try:
            return super().post(*args, **kwargs)
        except exceptions.OTPWebAuthnApiError:
            second_factor.count_failure(self.request, pending.username, second_factor.PASSKEY)
            raise

    def check_device_usable(self, device) -> None:
        super().check_device_usable(device)
        if device.user_id != self.pending.user.pk:
            raise exceptions.CredentialUserMismatch()

    def complete_auth(self, device) -> None:
        second_factor.finish_login(self.request, self.pending, device)

    def get_success_url(self) -> str:
        return self.pending.next_url


def passkeys_of(user):
    return second_factor.passkeys().filter(user=user, confirmed=True).order_by("created_at", "pk")


def remove_passkey(request, user, passkey_id) -> bool:
    deleted, _ = second_factor.passkeys().filter(user=user, pk=passkey_id).delete()
    if deleted:
        audit.record(audit.PASSKEY_REMOVED, request, user=user)
    return bool(deleted)
