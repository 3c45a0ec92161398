import uuid

from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.utils import timezone

from sso_shared.operations import audit
from sso_shared.sessions import user_row as session_user


def access_codename(service: str) -> str:
    return f"access_service_{service}"


class TombstoneQuerySet(models.QuerySet):
    """``delete()`` keeps the rows as anonymised, inactive tombstones (see ``User.delete``)."""

    def delete(self):
        from sso_shared.accounts.tombstones import tombstone_users

        count = tombstone_users(list(self))
        return count, {self.model._meta.label: count}

    delete.alters_data = True
    delete.queryset_only = True


class SharedUserManager(UserManager.from_queryset(TombstoneQuerySet)):
    def get(self, *args, **kwargs):
        """As always; except that ModelBackend's lookup of a request's user by primary key gets the row read with
        the session (sso_shared.sessions.user_row): no second query."""
        if not args and len(kwargs) == 1 and "pk" in kwargs and self._db is None:
            user = session_user.take(kwargs["pk"])
            if user is not None:
                return user
        return super().get(*args, **kwargs)


class User(AbstractUser):
    """The one user of both services.

    The primary key is a UUID from day one: a session stores it as a string and
    each service turns it back with ``_meta.pk.to_python``, so its type must be
    right and identical everywhere. Changing it later means rewriting every
    stored session.

    Deleting a user keeps the row as a tombstone: rows in every service's own
    database point at users by id with no constraint and no cascade across
    databases, so a removed row would leave them dangling. docs/architecture.md, "Deleting users".
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Set with a temporary password by an administrator (sso_shared.accounts.recovery): until the user has
    # changed it, every service sends them to the password change first (sso_shared.accounts.requirements).
    # A default in the database too, so the release before (which does not know the column) still adds users.
    must_change_password = models.BooleanField(
        default=False,
        db_default=False,
        editable=False,
        help_text="The password is a temporary one, set by an administrator: changed at the next login.",
    )

    objects = SharedUserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        db_table = "sso_user"

    def delete(self, using=None, keep_parents=False):
        from sso_shared.accounts.tombstones import tombstone_users

        count = tombstone_users([self])
        return count, {self._meta.label: count}

    delete.alters_data = True


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


class ServiceAccess(models.Model):
    """No table: it only carries one permission per service, "may use this service".

    Granted through groups like any permission, so access is managed in either
    service's admin (sso_shared.access.service_access). The permissions are not in Meta: each
    declared service's is made with its access group when a service migrates (provide_access_groups),
    so declaring a service (services.toml) changes no model and needs no migration of the shared tables.
    """

    class Meta:
        managed = False
        default_permissions = ()

    def __str__(self):
        return "access to a service"


class Session(AbstractBaseSession):
    """A login session, with the user it belongs to in a column of its own.

    Django's own table names the user only inside the signed session data, so
    finding one user's sessions meant decoding all of them. ``user_id`` is filled
    on every save by ``sso_shared.sessions.store.SessionStore``, NULL for anonymous
    sessions. Text, as the session stores the id, and with no constraint: a
    session must save whatever the user's primary key looks like.
    """

    # NULL, not "", for "no user": anonymous sessions are not anybody's.
    user_id = models.TextField(null=True, editable=False)  # noqa: DJ001
    # Where and how a logged-in session started, and when it was last used (the "Your sessions"
    # page, sso_shared.sessions.store). Defaults in the database itself, and NULL for "not known", so a
    # service of the release before (migration 0006), which does not write them, still saves sessions.
    service = models.CharField(max_length=40, db_default="", editable=False)
    address = models.GenericIPAddressField(null=True, editable=False)
    user_agent = models.CharField(max_length=audit.USER_AGENT_LENGTH, db_default="", editable=False)
    started_at = models.DateTimeField(null=True, editable=False)
    last_seen = models.DateTimeField(null=True, editable=False)

    class Meta(AbstractBaseSession.Meta):
        db_table = "sso_session"
        # A plain index: db_index=True on a text column would add a second,
        # pattern-matching (LIKE) index on PostgreSQL that no query here uses.
        indexes = [models.Index(fields=["user_id"], name="sso_session_user_id_idx")]

    @classmethod
    def get_session_store_class(cls):
        from sso_shared.sessions.store import SessionStore

        return SessionStore


class AuditEvent(models.Model):
    """One event of the audit trail (sso_shared.operations.audit): what, when, on which service, who, from where.

    ``user_id`` names the user by id with no constraint (NULL for a failed login
    or an event without a user); ``username`` is the user's name at the time, or
    the name tried in a failed login. Written only by ``sso_shared.operations.audit.record``;
    read-only everywhere else.
    """

    KIND_CHOICES = [(kind, kind) for kind in audit.KINDS]

    time = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20, choices=KIND_CHOICES)
    service = models.CharField(max_length=40)
    user_id = models.UUIDField(null=True, blank=True)
    username = models.CharField(max_length=audit.USERNAME_LENGTH, blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=audit.USER_AGENT_LENGTH, blank=True)

    class Meta:
        db_table = "sso_audit_event"
        ordering = ["time", "id"]
        indexes = [
            models.Index(fields=["time"], name="sso_audit_event_time_idx"),
            models.Index(fields=["user_id", "time"], name="sso_audit_event_user_idx"),
        ]

    def __str__(self):
        user = audit.printable(self.username)  # what a client typed, control characters escaped
        return f"{self.time.isoformat()} {self.kind} service={self.service} user={user} address={self.address}"
