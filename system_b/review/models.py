from django.conf import settings
from django.db import models


class Review(models.Model):
    """A reviewer's decision on a request filed on System A."""

    class Verdict(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        MORE_INFO = "more_info", "Needs more information"

    subject = models.CharField(max_length=200)
    verdict = models.CharField(max_length=20, choices=Verdict.choices, default=Verdict.APPROVED)
    note = models.TextField(blank=True)
    # A real foreign key into the shared schema. Users are never deleted, only tombstoned
    # (sso_shared.accounts.tombstones), so the row keeps its reviewer; PROTECT says so if anyone tries.
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.subject}: {self.get_verdict_display()}"
