from django import forms
from django.contrib import admin

from partnerportal.admin import ReadOnlyAdmin, ReadOnlyInline
from support.knowledge import articles
from support.models import (
    ActionItem,
    Article,
    ArticleCategory,
    BusinessCalendar,
    CalendarHoliday,
    CalendarWindow,
    Channel,
    CsatResponse,
    Deflection,
    Escalation,
    EscalationLevel,
    EscalationPolicy,
    EscalationTrigger,
    Notification,
    OnCallLayer,
    OnCallMember,
    OnCallOverride,
    OnCallSchedule,
    SeverityTarget,
    SupportPlan,
    Ticket,
    TicketAttachment,
    TicketEvent,
    TierSupportPlan,
)
from tiering.admin import TierAdmin
from tiering.models import Tier


class WindowFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        kept = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        always_open = self.instance.always_open
        if not always_open and not kept:
            raise forms.ValidationError("A calendar needs at least one working window, or tick 24/7.")


class CalendarWindowInline(admin.TabularInline):
    model = CalendarWindow
    formset = WindowFormSet
    extra = 0


class CalendarHolidayInline(admin.TabularInline):
    model = CalendarHoliday
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "always_open", "holiday_country"]
    list_filter = ["always_open", "holiday_country"]
    search_fields = ["name", "time_zone"]
    inlines = [CalendarWindowInline, CalendarHolidayInline]


class SeverityTargetInline(admin.TabularInline):
    model = SeverityTarget
    extra = 0
    min_num = 4  # every severity needs its targets, or tickets of that severity cannot be filed
    max_num = 4
    validate_min = True


class SupportPlanForm(forms.ModelForm):
    channels = forms.MultipleChoiceField(choices=Channel.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = SupportPlan
        fields = [
            "name",
            "rank",
            "calendar",
            "channels",
            "includes_phone",
            "includes_dedicated_csm",
            "includes_escalation_requests",
            "includes_executive_escalation",
            "partner_responsibilities",
            "warning_ratio",
        ]


class TierEntitlementInline(admin.TabularInline):
    """The tiers whose partners get this plan (a partner gets the best plan of the tiers it holds)."""

    model = TierSupportPlan
    extra = 0
    autocomplete_fields = ["tier"]


class TierPlanInline(admin.StackedInline):
    """On a tier's page: the support plan the tier entitles its partners to."""

    model = TierSupportPlan
    extra = 0
    max_num = 1
    autocomplete_fields = ["plan"]


@admin.register(SupportPlan)
class SupportPlanAdmin(admin.ModelAdmin):
    form = SupportPlanForm
    list_display = [
        "name",
        "rank",
        "calendar",
        "includes_phone",
        "includes_dedicated_csm",
        "includes_executive_escalation",
    ]
    list_select_related = ["calendar"]
    search_fields = ["name"]
    autocomplete_fields = ["calendar"]
    inlines = [SeverityTargetInline, TierEntitlementInline]


class TicketEventInline(ReadOnlyInline):
    model = TicketEvent
    fields = ["at", "kind", "actor", "public", "sla_target", "from_value", "to_value", "body"]
    readonly_fields = fields  # type: ignore[assignment]  # plain names; the stubs' list types are invariant


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdmin):
    """Read-only: tickets change through the portal's actions so every step is on the timeline."""

    deletable = True

    list_display = ["id", "title", "partner", "severity", "status", "assignee", "received_at", "next_due_at"]
    list_filter = ["status", "severity", "plan", "category"]
    list_select_related = ["partner", "assignee"]
    search_fields = ["title", "customer_name", "partner__name"]
    date_hierarchy = "received_at"
    inlines = [TicketEventInline]


@admin.register(TicketAttachment)
class TicketAttachmentAdmin(admin.ModelAdmin):
    list_display = ["original_name", "ticket", "content_type", "size", "uploaded_by", "uploaded_at", "public"]
    list_select_related = ["ticket", "uploaded_by"]
    search_fields = ["original_name", "ticket__title"]
    readonly_fields = ["ticket", "file", "original_name", "content_type", "size", "uploaded_by", "uploaded_at"]

    def has_add_permission(self, request):
        return False


# --- On call and escalation -----------------------------------------------------------------------


class OnCallLayerInline(admin.TabularInline):
    model = OnCallLayer
    extra = 0
    fields = ["role", "position", "name", "starts_on", "handoff", "length_days", "window_start", "window_end"]
    show_change_link = True


class OnCallOverrideInline(admin.TabularInline):
    model = OnCallOverride
    extra = 0
    fields = ["role", "person", "starts_at", "ends_at", "reason"]
    autocomplete_fields = ["person"]


@admin.register(OnCallSchedule)
class OnCallScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone"]
    search_fields = ["name"]
    inlines = [OnCallLayerInline, OnCallOverrideInline]


class MemberFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        kept = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if not kept:
            raise forms.ValidationError("A rotation needs at least one person.")


class OnCallMemberInline(admin.TabularInline):
    model = OnCallMember
    formset = MemberFormSet
    extra = 0
    autocomplete_fields = ["person"]


@admin.register(OnCallLayer)
class OnCallLayerAdmin(admin.ModelAdmin):
    list_display = ["name", "schedule", "role", "position", "starts_on", "handoff", "length_days"]
    list_filter = ["schedule", "role"]
    list_select_related = ["schedule"]
    search_fields = ["name", "schedule__name"]
    autocomplete_fields = ["schedule"]
    inlines = [OnCallMemberInline]


class EscalationLevelInline(admin.StackedInline):
    model = EscalationLevel
    extra = 0
    autocomplete_fields = ["schedule", "person"]
    fieldsets = [
        (None, {"fields": [("rank", "name"), ("rule", "after_minutes", "after_factor"), ("schedule", "person"), ("assigns", "executive")]}),
        ("Published contact", {"fields": ["published", ("contact_role", "contact_name"), ("contact_email", "contact_phone"), ("when_to_use", "response_minutes")]}),
    ]  # fmt: skip


class EscalationTriggerInline(admin.TabularInline):
    model = EscalationTrigger
    extra = 0

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if obj is not None:  # a trigger points at a level of the same policy
            formset.form.base_fields["level"].queryset = EscalationLevel.objects.filter(policy=obj)
        return formset


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    list_display = ["__str__", "plan"]
    list_select_related = ["plan"]
    search_fields = ["plan__name"]
    autocomplete_fields = ["plan"]
    inlines = [EscalationLevelInline, EscalationTriggerInline]


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdmin):
    """Read-only: escalations happen through the sweep, staff and partner requests, once per level."""

    list_display = ["ticket", "level_name", "cause", "assignee", "informed_only", "at", "by"]
    list_filter = ["cause", "level_name", "informed_only"]
    list_select_related = ["ticket", "assignee", "by"]
    search_fields = ["ticket__title", "reason", "routed_via"]
    date_hierarchy = "at"


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    deletable = True
    list_display = ["subject", "recipient", "send_after", "sent_at"]
    list_filter = ["sent_at"]
    list_select_related = ["recipient"]
    search_fields = ["subject", "recipient__email"]


@admin.register(ArticleCategory)
class ArticleCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "position"]
    list_editable = ["position"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "category", "audience", "published", "updated_at", "views"]
    list_filter = ["published", "audience", "category"]
    list_select_related = ["category"]
    search_fields = ["title", "summary"]
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["category"]
    readonly_fields = ["views", "created_at", "updated_at"]
    actions = ["publish", "unpublish"]

    def save_model(self, request, obj, form, change):
        articles.save_article(obj, changed_fields=form.changed_data)

    @admin.action(description="Publish the selected articles")
    def publish(self, request, queryset):
        self.message_user(request, f"{queryset.update(published=True)} article(s) published.")

    @admin.action(description="Unpublish the selected articles")
    def unpublish(self, request, queryset):
        self.message_user(request, f"{queryset.update(published=False)} article(s) unpublished.")


@admin.register(Deflection)
class DeflectionAdmin(ReadOnlyAdmin):
    list_display = ["at", "kind", "partner", "article", "ticket", "query"]
    list_filter = ["kind"]
    list_select_related = ["partner", "article", "ticket"]
    date_hierarchy = "at"


@admin.register(CsatResponse)
class CsatResponseAdmin(ReadOnlyAdmin):
    list_display = ["ticket", "score", "comment", "by", "at"]
    list_filter = ["score"]
    list_select_related = ["ticket", "by"]
    search_fields = ["ticket__title", "comment"]
    date_hierarchy = "at"


@admin.register(ActionItem)
class ActionItemAdmin(admin.ModelAdmin):
    """Items are opened by low CSAT scores and monthly reviews and closed on the review page (with
    what was done); the admin lists them and lets a manager reassign owner and due date."""

    list_display = ["description", "source", "partner", "owner", "due_on", "closed_at"]
    list_filter = ["source", ("closed_at", admin.EmptyFieldListFilter)]
    list_select_related = ["partner", "owner"]
    search_fields = ["description", "partner__name"]
    fields = [
        "source",
        "partner",
        "ticket",
        "review_month",
        "description",
        "owner",
        "due_on",
        "closed_at",
        "closed_by",
        "outcome",
    ]
    readonly_fields = [
        "source",
        "partner",
        "ticket",
        "review_month",
        "description",
        "closed_at",
        "closed_by",
        "outcome",
    ]
    autocomplete_fields = ["owner"]

    def has_add_permission(self, request):
        return False


# The tier admin belongs to tiering; its support plan is edited from here, so tiering names no support code.
admin.site.unregister(Tier)


@admin.register(Tier)
class TierWithSupportPlanAdmin(TierAdmin):
    inlines = [TierPlanInline, *TierAdmin.inlines]
    list_display = [*TierAdmin.list_display, "support_plan"]
    list_select_related = [*TierAdmin.list_select_related, "support_plan_entitlement__plan"]

    @admin.display(description="Support plan", ordering="support_plan_entitlement__plan__name")
    def support_plan(self, tier):
        entitlement = getattr(tier, "support_plan_entitlement", None)
        return entitlement.plan if entitlement else "—"


# The import pages, in their own module (registered on import).
from . import chat, imports  # noqa: E402, F401
