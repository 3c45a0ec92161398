"""Make a one-time link that sets a new password for a user, for a site without mail.

``./stack manage a sso_reset_link alice --site https://sso.example`` (either service; the link leads to A).
Hand the link to the user by other means. It works once (setting the password changes what it
was made from), until PASSWORD_RESET_HOURS have passed, and then logs out every session of the user.
It never gets past a second factor: the user then logs in with the new password and the second
factor (or a recovery code; or an administrator resets that too). Audited as ``reset_link_made``.
"""

from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, CommandError

from sso_shared.accounts.recovery import link_expires_at, make_reset_link
from sso_shared.database.routers import SHARED_DB


class Command(BaseCommand):
    help = "Print a one-time link that sets a new password for USERNAME (for sites without mail)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--site",
            default="",
            help="the site's address as users open it, e.g. https://sso.example (else only the path is printed)",
        )

    def handle(self, *args, username, site, **options):
        users = get_user_model()._default_manager.db_manager(SHARED_DB)
        user = users.filter(**{users.model.USERNAME_FIELD: username}).first()
        if user is None or not user.is_active:
            raise CommandError(f"No active user {username!r}.")
        path = make_reset_link(user)
        link = f"{site.rstrip('/')}{path}" if site else path
        self.stdout.write(link)
        note = f"Works once, until {link_expires_at():%Y-%m-%d %H:%M} UTC; hand it to {username} by other means."
        if not site:
            note += " Put the site's address in front (or give --site)."
        self.stderr.write(note)
