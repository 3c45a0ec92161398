from django.conf import settings
from django.db import models


class Request(models.Model):
    """Something a person asks for; System B reviews it."""

    title = models.CharField(max_length=200)
    details = models.TextField(blank=True)
    # The user lives in the shared database: no constraint can cross databases.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.title
