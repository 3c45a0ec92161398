"""Deleting a user keeps an anonymised, inactive row: a tombstone.

Each service's records point at users by id, in another database, with no
constraint and no cascade: removing the row would leave them pointing at
nothing (and the pages showing them failing). A tombstone keeps every owner
column valid and shows as "deleted-<8 hex>", while the person's name, email,
password, group memberships, permissions and sessions are gone; the audit
trail names them by the tombstone too.
"""

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from sso_shared.database.routers import SHARED_DB
from sso_shared.operations.audit import forget_username
from sso_shared.sessions.store import end_sessions_of

TOMBSTONE_PREFIX = "deleted-"


def tombstone_name(user) -> str:
    """Derived from the id, so deleting twice changes nothing; the full id if the short one is taken."""
    short = f"{TOMBSTONE_PREFIX}{user.pk.hex[:8]}"
    taken = type(user)._default_manager.using(SHARED_DB).filter(username=short).exclude(pk=user.pk).exists()
    return f"{TOMBSTONE_PREFIX}{user.pk.hex}" if taken else short


def tombstone_users(users) -> int:
    """Anonymise and deactivate ``users``, end their sessions; returns how many."""
    if not users:
        return 0
    with transaction.atomic(using=SHARED_DB):
        for user in users:
            anonymise(user)
        end_sessions_of(users)
    return len(users)


def anonymise(user) -> None:
    user.username = tombstone_name(user)
    user.first_name = user.last_name = user.email = ""
    user.set_unusable_password()
    user.is_active = user.is_staff = user.is_superuser = False
    user.save(using=SHARED_DB)
    user.groups.clear()
    user.user_permissions.clear()
    # The admin history names the user too (its "object" column holds the old username).
    LogEntry.objects.using(SHARED_DB).filter(
        content_type=ContentType.objects.db_manager(SHARED_DB).get_for_model(user), object_id=str(user.pk)
    ).update(object_repr=user.username)
    forget_username(user)
