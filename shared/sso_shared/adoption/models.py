from django.conf import settings
from django.db import models


class AdoptedUser(models.Model):
    """Who a legacy project's user became: (source, old primary key) → user.

    ``source`` names the adopted project (by default the letter of the service it
    became). ``--rewrite`` reads this to turn old primary keys into UUIDs. No username:
    a deleted user's tombstone keeps nothing that names the person.
    """

    source = models.CharField(max_length=40)
    old_pk = models.CharField(max_length=64)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    adopted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "sso_adopted_user"
        constraints = [models.UniqueConstraint(fields=["source", "old_pk"], name="sso_adopted_user_once")]

    def __str__(self):
        return f"{self.source}:{self.old_pk} → {self.user_id}"


class AdoptedSession(models.Model):
    """One legacy session carried over, by the digest its legacy cookie is looked up with.

    Kept after the browser has claimed it (and its ``sso_session`` row is gone), so
    running the adoption again never carries the same session a second time.
    """

    digest = models.CharField(max_length=40, primary_key=True)
    source = models.CharField(max_length=40)
    adopted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "sso_adopted_session"

    def __str__(self):
        return f"{self.source}:{self.digest[:8]}"
