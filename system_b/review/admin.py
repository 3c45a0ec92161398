from django.contrib import admin

from .models import Review


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["subject", "verdict", "reviewer", "created_at"]
    list_filter = ["verdict"]
    # Reviewers live in the shared database: fetch them in one extra query, never a join.
    list_select_related = False
    search_fields = ["subject"]
    raw_id_fields = ["reviewer"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("reviewer")
