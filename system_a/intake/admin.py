from django.contrib import admin

from .models import Request


@admin.register(Request)
class RequestAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "created_at"]
    # Owners live in the shared database: fetch them in one extra query, never a join.
    list_select_related = False
    search_fields = ["title"]
    raw_id_fields = ["owner"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("owner")
