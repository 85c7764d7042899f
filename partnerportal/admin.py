from django.contrib import admin
from django.utils.html import format_html

from .models import Heartbeat


def progress_bar(percent: int, processed: int, total: int, unit: str) -> str:
    """A long run's progress as its admin page shows it: a bar and "N of M <unit>"."""
    return format_html('<progress max="100" value="{}"></progress> {} of {} {}', percent, processed, total, unit)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that only the portal's own flows write: listed and shown, never added or edited by hand.

    `deletable = True` lets managers remove one (a mistaken import, an old notification).
    """

    deletable = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.deletable and super().has_delete_permission(request, obj)


class ReadOnlyInline(admin.TabularInline):
    """The inline form of ReadOnlyAdmin: rows a parent's page shows but nobody edits."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "last_run_at"]
    readonly_fields = ["name", "last_run_at"]

    def has_add_permission(self, request):
        return False
