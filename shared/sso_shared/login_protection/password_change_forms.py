"""Password-change forms whose old password is checked like a login: throttled, locked and audited.

With a stolen session, Django's own form let anyone guess the old password as fast as they could
post it: no lockout, no audit (issue 24). These forms check it with ``authenticate()``, the login's
own path: the lockout (sso_shared.login_protection.lockout) refuses a locked username or address before the password
is checked, a wrong one is a failed login of that user at that address (counted by django-axes,
recorded as ``login_failed`` by sso_shared.operations.audit), and the check holds a password-check slot
(sso_shared.login_protection.password_checks). nginx throttles these POSTs like the login's (docs/login-protection.md).
"""

from django.contrib.admin.forms import AdminPasswordChangeForm
from django.contrib.auth import authenticate
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError


class OldPasswordCheckedLikeALogin:
    """Needs the request (``request=`` keyword): its address is what the lockout and the audit key on."""

    def __init__(self, *args, request=None, **kwargs):
        self.request = request
        super().__init__(*args, **kwargs)

    def clean_old_password(self):
        old_password = self.cleaned_data["old_password"]
        checked = authenticate(self.request, username=self.user.get_username(), password=old_password)
        if checked is None or checked.pk != self.user.pk:
            # Locked: django-axes marked the request, and AxesMiddleware answers with the lockout page.
            raise ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return old_password


class CountedPasswordChangeForm(OldPasswordCheckedLikeALogin, PasswordChangeForm):
    pass


class CountedAdminPasswordChangeForm(OldPasswordCheckedLikeALogin, AdminPasswordChangeForm):
    pass
