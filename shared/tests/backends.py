"""Authentication backends a site might add next to ModelBackend, each with its own rule for this service (A)."""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied

ACCESS_TO_A = "sso_shared.access_service_a"


class GrantsVisitors:
    """Lets users whose name starts with "visitor" use A, without any group or permission."""

    def has_perm(self, user_obj, perm, obj=None):
        return perm == ACCESS_TO_A and user_obj.get_username().startswith("visitor")


class DeniesSuspended:
    """Keeps users whose name starts with "suspended" off A, whatever their groups say."""

    def has_perm(self, user_obj, perm, obj=None):
        if perm == ACCESS_TO_A and user_obj.get_username().startswith("suspended"):
            raise PermissionDenied
        return False


class LogsInOnly:
    """Answers no permission questions at all: has_perm is not asked of it."""

    def authenticate(self, request, **credentials):
        return None


class IgnoresGroups(ModelBackend):
    """A ModelBackend whose users get only their own permissions, never their groups'."""

    def _get_group_permissions(self, user_obj):
        return Permission.objects.none()
