"""Admin of ladders, tiers, the benefits catalogue and the public MDF criteria."""

from django.contrib import admin, messages
from django.db.models import Count
from django.utils.html import format_html_join

from tiering.models import (
    Benefit,
    Ladder,
    MdfCriterion,
    Tier,
    TierBenefit,
)


class TierInline(admin.TabularInline):
    model = Tier
    extra = 0
    fields = ["rank", "name", "description"]
    show_change_link = True


@admin.register(Ladder)
class LadderAdmin(admin.ModelAdmin):
    list_display = ["name", "motion", "tier_count", "design_notes"]
    list_select_related = ["motion"]
    search_fields = ["name", "motion__name"]
    inlines = [TierInline]
    readonly_fields = ["design_notes"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_tiers=Count("tiers")).prefetch_related("tiers")

    def _warnings(self, ladder):
        return ladder.design_warnings(list(Tier.objects.filter(ladder=ladder).values_list("name", flat=True)))

    @admin.display(description="Tiers", ordering="_tiers")
    def tier_count(self, ladder):
        return ladder._tiers

    @admin.display(description="Design warnings")
    def design_notes(self, ladder):
        if ladder.pk is None:
            return "—"
        return format_html_join("", "<p>⚠ {}</p>", ((w,) for w in ladder.design_warnings())) or "None"

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        for warning in self._warnings(form.instance):
            self.message_user(request, warning, messages.WARNING)


class TierBenefitInline(admin.TabularInline):
    model = TierBenefit
    extra = 0
    autocomplete_fields = ["benefit"]


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ["name", "ladder", "rank"]
    list_filter = ["ladder"]
    list_select_related = ["ladder"]
    search_fields = ["name", "ladder__name"]
    autocomplete_fields = ["ladder"]
    inlines = [TierBenefitInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        for warning in obj.ladder.design_warnings(list(obj.ladder.tiers.values_list("name", flat=True))):
            self.message_user(request, warning, messages.WARNING)


@admin.register(Benefit)
class BenefitAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "is_costly", "offsetting_rule"]
    list_filter = ["kind", "is_costly"]
    search_fields = ["name", "description", "offsetting_rule"]


@admin.register(MdfCriterion)
class MdfCriterionAdmin(admin.ModelAdmin):
    list_display = ["metric", "threshold", "window", "note"]
    autocomplete_fields = ["metric"]
