from django.conf import settings
from django.db import models


class Request(models.Model):
    """Something a person asks for; System B reviews it."""

    title = models.CharField(max_length=200)
    details = models.TextField(blank=True)
    # A real foreign key into the shared schema. Users are never deleted, only tombstoned
    # (sso_shared.accounts.tombstones), so the row keeps its owner; PROTECT says so if anyone tries.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.title
