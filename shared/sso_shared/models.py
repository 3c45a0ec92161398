import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """The one user of both services.

    The primary key is a UUID from day one: a session stores it as a string and
    each service turns it back with ``_meta.pk.to_python``, so its type must be
    right and identical everywhere. Changing it later means rewriting every
    stored session.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        db_table = "sso_user"


class ServiceFingerprint(models.Model):
    """What one service believes must be identical everywhere, in digest form."""

    service = models.CharField(max_length=40, primary_key=True)
    fingerprint = models.JSONField()
    app_labels = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "sso_service_fingerprint"

    def __str__(self):
        return self.service
