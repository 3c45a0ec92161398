from django.contrib import admin

from sso_shared.accounts.admin import SharedUserReferencesAdmin

from .models import Review


@admin.register(Review)
class ReviewAdmin(SharedUserReferencesAdmin):
    shared_user_fields = ("reviewer",)
    list_display = ["subject", "verdict", "reviewer", "created_at"]
    list_filter = ["verdict"]
    search_fields = ["subject"]
