from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import User

admin.site.register(User, UserAdmin)


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
