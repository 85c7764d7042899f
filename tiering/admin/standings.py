"""Admin of standings, 4C checks, downgrade conversations and tier history."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from partnerportal.admin import ReadOnlyAdmin, ReadOnlyInline
from tiering import downgrades
from tiering.models import (
    DowngradeConversation,
    QualificationCheck,
    Standing,
    TierChange,
)


@admin.register(QualificationCheck)
class QualificationCheckAdmin(admin.ModelAdmin):
    list_display = ["partner", "motion", "assessed_on", "passed_display", "assessed_by"]
    list_filter = ["motion", "assessed_on"]
    list_select_related = ["partner", "motion", "assessed_by"]
    search_fields = ["partner__name", "notes"]
    autocomplete_fields = ["partner"]
    readonly_fields = ["assessed_by"]

    @admin.display(description="4C passed", boolean=True)
    def passed_display(self, check):
        return check.passed

    def save_model(self, request, obj, form, change):
        if obj.assessed_by_id is None:
            obj.assessed_by = request.user
        super().save_model(request, obj, form, change)


class PendingDropFilter(admin.SimpleListFilter):
    title = "pending drop"
    parameter_name = "pending"

    def lookups(self, request, model_admin):
        return [("yes", "Grandfathered, drop pending"), ("no", "No pending drop")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(grandfathered_until__isnull=False)
        if self.value() == "no":
            return queryset.filter(grandfathered_until__isnull=True)
        return queryset


class ConversationInline(ReadOnlyInline):
    model = DowngradeConversation
    fields = readonly_fields = (
        "held_on",
        "held_by",
        "partner_contact",
        "notes",
        "recorded_at",
    )


class TierChangeInline(ReadOnlyInline):
    model = TierChange
    fk_name = "partner"
    fields = readonly_fields = (
        "effective_on",
        "ladder",
        "kind",
        "from_tier",
        "to_tier",
        "run",
        "reason",
    )


class ConversationForm(forms.Form):
    held_on = forms.DateField(label="Held on", widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    partner_contact = forms.CharField(label="Who you spoke to at the partner", max_length=150)
    notes = forms.CharField(
        label="What was said",
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="The criteria, where they stand now, what the partners at their former tier had in common, "
        "and exactly what would put them back.",
    )


def exit_candidate_flag(record) -> str:
    """An exit candidate is named as one; everyone else shows a dash (a red ✗ read as an alarm)."""
    return "Exit candidate" if record.exit_candidate else "—"


@admin.register(Standing)
class StandingAdmin(ReadOnlyAdmin):
    list_display = ["partner", "ladder", "tier", "since", "grandfathered_until", "pending_tier", "exit_candidacy"]
    list_filter = [PendingDropFilter, "exit_candidate", "ladder", "tier"]
    list_select_related = ["partner", "ladder", "tier", "pending_tier"]
    search_fields = ["partner__name"]
    inlines = [ConversationInline]
    change_form_template = "admin/tiering/standing/change_form.html"

    @admin.display(description="Exit candidate", ordering="exit_candidate")
    def exit_candidacy(self, standing):
        return exit_candidate_flag(standing)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        standing = get_object_or_404(Standing, pk=object_id)
        history = TierChange.objects.filter(partner=standing.partner_id, ladder=standing.ladder_id).select_related(
            "from_tier", "to_tier", "run"
        )
        extra = {"standing": standing, "history": history, "today": timezone.localdate()}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def get_urls(self):
        view = self.admin_site.admin_view(self.record_conversation)
        return [path("<path:object_id>/conversation/", view, name="tiering_standing_conversation"), *super().get_urls()]

    def record_conversation(self, request, object_id):
        if not request.user.has_perm("tiering.add_downgradeconversation"):
            raise PermissionDenied
        standing = get_object_or_404(Standing.objects.select_related("partner", "ladder", "tier"), pk=object_id)
        form = ConversationForm(request.POST or None, initial={"held_on": timezone.localdate()})
        if request.method == "POST" and form.is_valid():
            try:
                downgrades.record_downgrade_conversation(standing, by=request.user, **form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                standing.refresh_from_db()
                outcome = (
                    "the drop applied today"
                    if not standing.has_pending_drop
                    else f"the drop applies after {standing.grandfathered_until:%d %b %Y}"
                )
                self.message_user(request, f"Conversation with {standing.partner} recorded; {outcome}.")
                return redirect("admin:tiering_standing_change", standing.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "standing": standing,
            "form": form,
            "title": f"Downgrade conversation with {standing.partner}",
        }
        return TemplateResponse(
            request, "admin/tiering/standing/conversation.html", context, status=400 if form.errors else 200
        )


@admin.register(DowngradeConversation)
class DowngradeConversationAdmin(ReadOnlyAdmin):
    list_display = ["standing", "held_on", "held_by", "partner_contact", "recorded_at"]
    list_select_related = ["standing__partner", "standing__ladder__motion", "standing__tier", "held_by"]
    search_fields = ["standing__partner__name", "partner_contact", "notes"]


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyAdmin):
    list_display = ["partner", "ladder", "kind", "from_tier", "to_tier", "effective_on", "run"]
    list_filter = ["kind", "ladder", "effective_on"]
    list_select_related = ["partner", "ladder", "from_tier", "to_tier", "run"]
    search_fields = ["partner__name", "reason"]
    date_hierarchy = "effective_on"
