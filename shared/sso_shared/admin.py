"""The contract both services import: who the user is and where they live."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import User
from .tombstones import tombstone_users


@admin.register(User)
class SharedUserAdmin(UserAdmin):
    """Deleting a user here keeps a tombstone (sso_shared.tombstones), in both services' admins.

    Django's delete confirmation would run its cascade collector over every model
    pointing at the user, including service models in another database; there is
    nothing to cascade, so the page says what happens instead.
    """

    delete_confirmation_template = "admin/sso_shared/user/delete_confirmation.html"
    delete_selected_confirmation_template = "admin/sso_shared/user/delete_selected_confirmation.html"

    def get_deleted_objects(self, objs, request):
        users = [f"{self.opts.verbose_name.capitalize()}: {user}" for user in objs]
        return users, {self.opts.verbose_name_plural: len(users)}, set(), []

    def delete_model(self, request, obj):
        tombstone_users([obj])

    def delete_queryset(self, request, queryset):
        tombstone_users(list(queryset))


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
