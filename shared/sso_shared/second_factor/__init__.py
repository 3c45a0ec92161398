"""The second factor: TOTP, single-use recovery codes and passkeys on the one login.
``rules`` says who has a second factor and who must, checks a code and holds the login's pending
second step; ``login_step`` is that second step after the password, ``page`` the "Two-factor" page
where a user sets factors up or turns them off, and ``passkeys`` the WebAuthn relying party. The
devices themselves are django-otp's and django-otp-webauthn's, in the shared schema.
"""
