"""The contract both services import: who the user is and where they live.

Both services' admins edit the same users and groups, so whatever one admin
grants holds on every service. Granting is therefore for superusers only: a
staff user who may change users or groups may not change anyone's superuser
status, groups or own permissions, nor any group's permissions (the fields are
read-only for them, and left out of the form, so a crafted POST changes
nothing); nor change or delete a superuser, a user holding permissions they lack
themselves (setting that user's password would make them that user), or the
access groups every new user joins (sso_shared.access.groups).
"""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from sso_shared.access.groups import AccessGroupPermissionError, is_access_group, refuse_beyond_access
from sso_shared.accounts.admin_recovery import AccountRecoveryAdminMixin
from sso_shared.accounts.tombstones import tombstone_users
from sso_shared.database.routers import SHARED_DB
from sso_shared.models import AuditEvent, User
from sso_shared.operations.audit import printable
from sso_shared.sessions.admin_actions import EndSessionsAdminMixin

SUPERUSER_ONLY_USER_FIELDS = ("is_superuser", "groups", "user_permissions")
SUPERUSER_ONLY_GROUP_FIELDS = ("permissions",)


def granted_permissions(user) -> set[str]:
    """'app_label.codename' of everything the user's row and groups grant, active or not.

    Not ``get_all_permissions()``: it answers nothing for an inactive user, whom
    a staff user could reactivate.
    """
    rows = (
        Permission.objects.using(SHARED_DB)
        .filter(Q(user=user) | Q(group__user=user))
        .values_list("content_type__app_label", "codename")
    )
    return {f"{app_label}.{codename}" for app_label, codename in rows}


def outranks(user, actor) -> bool:
    """Whether ``user`` may do something ``actor`` may not, so ``actor`` must not change or delete them."""
    if actor.is_superuser:
        return False
    return user.is_superuser or not granted_permissions(user) <= actor.get_all_permissions()


@admin.register(User)
class SharedUserAdmin(EndSessionsAdminMixin, AccountRecoveryAdminMixin, UserAdmin):
    """Deleting a user here keeps a tombstone (sso_shared.accounts.tombstones), in both services' admins.

    Django's delete confirmation would run its cascade collector over every model
    pointing at the user, including service models in another database; there is
    nothing to cascade, so the page says what happens instead.

    Only superusers grant (see the module's docstring). Those who may change a user may log
    them out everywhere (sso_shared.sessions.admin_actions), reset their second factor, make them a one-time
    password reset link or set a temporary password (sso_shared.accounts.admin_recovery).
    """

    actions = ["end_sessions", "reset_second_factor"]

    delete_confirmation_template = "admin/sso_shared/user/delete_confirmation.html"
    delete_selected_confirmation_template = "admin/sso_shared/user/delete_selected_confirmation.html"

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if request.user.is_superuser:
            return fields
        return (*fields, *SUPERUSER_ONLY_USER_FIELDS)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not (obj and outranks(obj, request.user))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj and outranks(obj, request.user))

    def get_deleted_objects(self, objs, request):
        users = [f"{self.opts.verbose_name.capitalize()}: {user}" for user in objs]
        # Non-empty refuses the whole (bulk) delete, as Django's own collector would.
        perms_needed = {str(user) for user in objs if not self.has_delete_permission(request, user)}
        return users, {self.opts.verbose_name_plural: len(users)}, perms_needed, []

    def delete_model(self, request, obj):
        tombstone_users([obj])

    def delete_queryset(self, request, queryset):
        tombstone_users(list(queryset))


class AccessGroupForm(forms.ModelForm):
    """Says in the form, rather than failing on save, that an access group grants only its service."""

    def clean(self):
        cleaned = super().clean()
        name = cleaned.get("name", self.instance.name)
        if "permissions" in cleaned:
            permissions = cleaned["permissions"]
        elif self.instance.pk:
            permissions = self.instance.permissions.all()
        else:
            permissions = Permission.objects.none()
        try:
            refuse_beyond_access(name, permissions)
        except AccessGroupPermissionError as error:
            field = "permissions" if "permissions" in self.fields else "name"
            self.add_error(field, error)
        return cleaned


admin.site.unregister(Group)  # Django's own GroupAdmin, registered when django.contrib.auth.admin was imported


@admin.register(Group)
class SharedGroupAdmin(GroupAdmin):
    """Only superusers change a group's permissions or the access groups (see the module's docstring)."""

    form = AccessGroupForm

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if request.user.is_superuser:
            return fields
        return (*fields, *SUPERUSER_ONLY_GROUP_FIELDS)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not self.superusers_only(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not self.superusers_only(request, obj)

    def superusers_only(self, request, obj) -> bool:
        return obj is not None and is_access_group(obj) and not request.user.is_superuser


class SharedUserReferencesAdmin(admin.ModelAdmin):
    """Admin for a service model whose foreign keys point at the shared user.

    The user lives in another database, so the changelist must never join to it
    (Django's admin adds ``select_related()`` for any foreign key shown in
    ``list_display`` unless told otherwise). Owners are fetched with one extra
    query instead, and picked by id, since a drop-down would list every user.
    List the foreign-key fields in ``shared_user_fields``; never use them in
    ``search_fields`` (``owner__username`` would need a cross-database join).
    """

    shared_user_fields: tuple[str, ...] = ()
    list_select_related = ()

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(*self.shared_user_fields)

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        self.raw_id_fields = (*self.raw_id_fields, *self.shared_user_fields)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail (sso_shared.operations.audit), read-only: nobody adds, changes or deletes an event here."""

    list_display = ("time", "kind", "service", "shown_username", "address", "shown_user_agent")
    list_filter = ("kind", "service", "time")
    search_fields = ("username", "address")
    date_hierarchy = "time"
    # Names and browsers as clients sent them, control characters escaped (sso_shared.operations.audit.printable).
    fields = readonly_fields = ("time", "kind", "service", "user_id", "shown_username", "address", "shown_user_agent")

    @admin.display(description="username", ordering="username")
    def shown_username(self, event):
        return printable(event.username)

    @admin.display(description="user agent")
    def shown_user_agent(self, event):
        return printable(event.user_agent).replace("\\x20", " ")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# django-otp's own admin pages would show every user's devices (and, to superusers, TOTP keys and
# recovery codes; django-otp-webauthn registers none of its own). Administrators reset a second factor instead
# (sso_shared.accounts.admin_recovery). Imported first, so the admin's autodiscovery later finds them done.
def unregister_second_factor_admins():
    from django_otp.plugins.otp_static import admin as static_admin  # noqa: F401 (registers StaticDevice)
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp import admin as totp_admin  # noqa: F401 (registers TOTPDevice)
    from django_otp.plugins.otp_totp.models import TOTPDevice

    for model in (StaticDevice, TOTPDevice):
        if admin.site.is_registered(model):
            admin.site.unregister(model)


unregister_second_factor_admins()
