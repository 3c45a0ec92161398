from django.contrib import admin

from sso_shared.accounts.admin import SharedUserReferencesAdmin

from .models import Request


@admin.register(Request)
class RequestAdmin(SharedUserReferencesAdmin):
    shared_user_fields = ("owner",)
    list_display = ["title", "owner", "created_at"]
    search_fields = ["title"]
