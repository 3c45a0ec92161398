"""The login's second step on A: a code from the authenticator app, a recovery code, or a passkey.

Reached only from the first step (``sso_shared.accounts.views.LoginView``), which left a pending login in
the still anonymous session (``sso_shared.second_factor.rules``). A right code logs in and goes on to
where the login was headed; a wrong one says so and counts toward the lockout like a wrong
password; a locked pair gets the lockout page without its code being looked at. Without a pending
login (none, expired after five minutes, or the password changed meanwhile) it sends the visitor
back to the login page.
"""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from sso_shared.login_protection.lockout import lockout_response
from sso_shared.second_factor import rules as second_factor
from sso_shared.second_factor.page import passkey_config
from sso_shared.second_factor.passkeys import passkeys_of, relying_party_id

TEMPLATE = "registration/second_step.html"


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=40,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}),
    )


@method_decorator([sensitive_post_parameters("code"), csrf_protect, never_cache], name="dispatch")
class SecondStepView(View):
    def dispatch(self, request, *args, **kwargs):
        self.pending = second_factor.pending_login(request)
        if self.pending is None:
            messages.info(request, "Please log in again: the second step waits five minutes at most.")
            return redirect("login")
        return super().dispatch(request, *args, **kwargs)

    def get(self, request):
        return self.page(CodeForm())

    def post(self, request):
        if "start_over" in request.POST:
            second_factor.forget_second_step(request)
            return redirect("login")
        form = CodeForm(request.POST)
        if not form.is_valid():
            return self.page(form)
        pending = self.pending
        result = second_factor.check_code(request, pending.user, pending.username, form.cleaned_data["code"])
        if result.locked:
            return lockout_response(request, credentials={"username": pending.username})
        if result.device is None:
            # When this failure locked the pair, django-axes' middleware answers with the lockout page instead.
            if result.wait_until is not None:
                form.add_error("code", f"Too many wrong codes: wait {result.wait_seconds} seconds, then try again.")
            else:
                form.add_error("code", "That code is not right, or was used already. Please try again.")
            return self.page(form)
        second_factor.finish_login(request, pending, result.device)
        return redirect(pending.next_url)

    def page(self, form):
        user = self.pending.user
        context = {
            "form": form,
            "pending_username": user.get_username(),
            "has_authenticator": second_factor.totp_devices().filter(user=user, confirmed=True).exists(),
            "has_passkeys": passkeys_of(user).exists(),
            "passkeys_possible": bool(relying_party_id(self.request)),
            "recovery_codes_left": second_factor.recovery_codes_left(user),
            "passkey_config": passkey_config(self.request),
        }
        return render(self.request, TEMPLATE, context)
