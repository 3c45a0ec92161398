"""Login protection: what stands between a guesser and a password.
``lockout`` locks a username at an address after repeated failures (django-axes, with a growing
cool-off), and ``lockout_admin`` shows and lifts locks in both admins; ``login_gate`` refuses an
address that fails for every username; ``password_checks`` caps the password checks running at
once across every service, so a flood cannot take the login down; ``password_change_forms`` treats
the old password of a password change like a login.
"""
