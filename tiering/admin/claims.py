"""Admin of named-account claims and their engagements."""

from django.contrib import admin

from partnerportal.admin import ReadOnlyAdmin, ReadOnlyInline
from tiering import claims
from tiering.models import (
    AccountClaim,
    Engagement,
)


class EngagementInline(ReadOnlyInline):
    model = Engagement
    fields = readonly_fields = (
        "logged_at",
        "logged_by",
        "note",
    )


@admin.register(AccountClaim)
class AccountClaimAdmin(ReadOnlyAdmin):
    list_display = ["account_name", "partner", "claimed_at", "expires_at", "released_at", "release_reason"]
    list_filter = ["release_reason", "released_at", "expires_at"]
    list_select_related = ["partner"]
    search_fields = ["account_name", "partner__name"]
    inlines = [EngagementInline]
    actions = ["release"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("tiering.change_accountclaim"):
            actions.pop("release", None)
        return actions

    @admin.action(description="Release the selected claims (the program frees the accounts)")
    def release(self, request, queryset):
        released = 0
        for claim in queryset.filter(released_at__isnull=True):
            claims.release_claim(claim, reason=AccountClaim.Release.PROGRAM, by=request.user)
            released += 1
        self.message_user(request, f"{released} claim(s) released.")
