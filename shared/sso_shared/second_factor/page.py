"""The "Two-factor" page on A (``/a/accounts/two-factor/``, linked from every service's header).

On it the logged-in user:

- sets up an authenticator app (TOTP): the page shows the ``otpauth://`` URI as text (to type
  into an authenticator on an air-gapped site) and as a QR code drawn by the server (segno, an
  inline SVG: no script, no external image), then confirms with a code from the app;
- adds and removes passkeys (django-otp-webauthn's ceremony, sso_shared.second_factor.passkeys);
- gets recovery codes with the first factor, and new ones on request: shown once, never again;
- turns the second factor off, which takes a code (and is refused where it is required).

The first factor logs out every other session of the user (sso_shared.second_factor.rules.factor_added).
Every change is audited. The last factor can only go by turning the second factor off.
"""

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.safestring import mark_safe
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from sso_shared.operations import audit
from sso_shared.second_factor import rules as second_factor
from sso_shared.second_factor.passkeys import passkeys_of, relying_party_id, remove_passkey

PAGE = "two_factor"
TEMPLATE = "sso_shared/two_factor.html"


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=40,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "spellcheck": "false"}),
    )


def qr_code_svg(uri: str) -> str:
    """The URI as a QR code: SVG markup made here from our own URI (segno escapes nothing it takes in)."""
    return segno.make(uri, error="m").svg_inline(scale=4, title="QR code of the set-up link", dark="#000", light="#fff")


def grouped_key(device) -> str:
    """The TOTP key in base32, in groups of four, for typing into an app by hand."""
    from base64 import b32encode

    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def passkey_config(request) -> dict:
    """What django-otp-webauthn's script reads from the page (a JSON block, no inline script)."""
    return {
        "csrfToken": get_token(request),
        "autocompleteLoginFieldSelector": None,
        "nextFieldSelector": None,
        "beginRegistrationUrl": reverse("passkey_register_begin"),
        "completeRegistrationUrl": reverse("passkey_register_complete"),
        "beginAuthenticationUrl": reverse("passkey_login_begin"),
        "completeAuthenticationUrl": reverse("passkey_login_complete"),
    }


@method_decorator([sensitive_post_parameters("code"), never_cache], name="dispatch")
class TwoFactorView(LoginRequiredMixin, View):
    def get(self, request):
        return self.page()

    def post(self, request):
        action = request.POST.get("action", "")
        handler = getattr(self, f"do_{action}", None) if action in ACTIONS else None
        if handler is None:
            messages.error(request, "Nothing was changed: that is not something this page does.")
            return redirect(PAGE)
        return handler(request)

    # --- the authenticator app ---

    def do_start_totp(self, request):
        second_factor.totp_devices().filter(user=request.user, confirmed=False).delete()
        second_factor.totp_devices().create(user=request.user, name=second_factor.AUTHENTICATOR_NAME, confirmed=False)
        return redirect(PAGE)

    def do_cancel_totp(self, request):
        second_factor.totp_devices().filter(user=request.user, confirmed=False).delete()
        return redirect(PAGE)

    def do_confirm_totp(self, request):
        user = request.user
        form = CodeForm(request.POST)
        device = second_factor.totp_devices().filter(user=user, confirmed=False).order_by("-pk").first()
        if device is None:
            messages.error(request, "Start the set-up again: it was cancelled or finished in another window.")
            return redirect(PAGE)
        if not form.is_valid() or not device.verify_token(second_factor.normalised_code(form.cleaned_data["code"])):
            form.errors.clear()
            form.add_error("code", "That code is not right. Check the time on the device and try the newest code.")
            return self.page(confirm_form=form)
        first = not second_factor.has_second_factor(user)
        device.confirmed = True
        device.save()
        # A new app replaces the old one: one authenticator app per user.
        second_factor.totp_devices().filter(user=user).exclude(pk=device.pk).delete()
        second_factor.factor_added(request, user, device, first=first)
        messages.success(request, "Authenticator app set up: the login asks for its code from now on.")
        return redirect(PAGE)

    def do_remove_totp(self, request):
        if self.refuse_removing_the_last(request):
            return redirect(PAGE)
        deleted, _ = second_factor.totp_devices().filter(user=request.user).delete()
        if deleted:
            audit.record(audit.TOTP_REMOVED, request, user=request.user)
            messages.success(request, "Authenticator app removed.")
        return redirect(PAGE)

    # --- passkeys (added by django-otp-webauthn's ceremony, sso_shared.second_factor.passkeys) ---

    def do_remove_passkey(self, request):
        if self.refuse_removing_the_last(request):
            return redirect(PAGE)
        if remove_passkey(request, request.user, request.POST.get("passkey", "")):
            messages.success(request, "Passkey removed: it no longer logs you in.")
        else:
            messages.error(request, "No such passkey of yours: it may have been removed already.")
        return redirect(PAGE)

    def refuse_removing_the_last(self, request) -> bool:
        factors = second_factor.totp_devices().filter(user=request.user, confirmed=True).count()
        factors += passkeys_of(request.user).count()
        if factors > 1:
            return False
        messages.error(request, "That is your only second factor: to go without one, turn the second factor off.")
        return True

    # --- recovery codes, turning it off ---

    def do_new_recovery_codes(self, request):
        if not second_factor.has_second_factor(request.user):
            messages.error(request, "Recovery codes come with a second factor: set one up first.")
            return redirect(PAGE)
        second_factor.show_codes_once(request, second_factor.new_recovery_codes(request.user))
        audit.record(audit.RECOVERY_CODES_MADE, request, user=request.user)
        messages.success(request, "New recovery codes: the old ones no longer work.")
        return redirect(PAGE)

    def do_turn_off(self, request):
        user = request.user
        if second_factor.must_have_second_factor(user):
            messages.error(request, "Your account must keep a second factor: this site requires it.")
            return redirect(PAGE)
        form = CodeForm(request.POST)
        if not form.is_valid():
            return self.page(off_form=form)
        result = second_factor.check_code(request, user, user.get_username(), form.cleaned_data["code"])
        if result.device is None:
            form.add_error("code", "That code is not right (a code from your app, or a recovery code).")
            return self.page(off_form=form)
        second_factor.turn_off(request, user)
        messages.success(request, "Second factor turned off: the login asks for your password only.")
        return redirect(PAGE)

    # --- the page ---

    def page(self, confirm_form=None, off_form=None):
        request = self.request
        user = request.user
        pending_totp = second_factor.totp_devices().filter(user=user, confirmed=False).order_by("-pk").first()
        context = {
            "has_second_factor": second_factor.has_second_factor(user),
            "required": second_factor.must_have_second_factor(user),
            "totp": second_factor.totp_devices().filter(user=user, confirmed=True).first(),
            "pending_totp": pending_totp,
            "confirm_form": confirm_form or CodeForm(),
            "off_form": off_form or CodeForm(),
            "passkeys": list(passkeys_of(user)),
            "passkeys_possible": bool(relying_party_id(request)),
            "recovery_codes_left": second_factor.recovery_codes_left(user),
            "codes_to_show": second_factor.codes_to_show(request),
            "passkey_config": passkey_config(request),
        }
        if pending_totp is not None:
            context["setup_uri"] = pending_totp.config_url
            context["setup_key"] = grouped_key(pending_totp)
            context["setup_qr"] = mark_safe(qr_code_svg(pending_totp.config_url))  # noqa: S308 (segno's own SVG)
        status = 200 if not (confirm_form or off_form) else 400
        return render(request, TEMPLATE, context, status=status)


ACTIONS = frozenset(
    {
        "start_totp",
        "cancel_totp",
        "confirm_totp",
        "remove_totp",
        "remove_passkey",
        "new_recovery_codes",
        "turn_off",
    }
)
