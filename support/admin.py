from django import forms
from django.contrib import admin

from .models import (
    BusinessCalendar,
    CalendarHoliday,
    CalendarWindow,
    Channel,
    SeverityTarget,
    SupportPlan,
    Ticket,
    TicketAttachment,
    TicketEvent,
)


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
            "includes_executive_escalation",
            "partner_responsibilities",
            "warning_ratio",
        ]


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
    inlines = [SeverityTargetInline]


class TicketEventInline(admin.TabularInline):
    model = TicketEvent
    extra = 0
    can_delete = False
    fields = ["at", "kind", "actor", "public", "sla_target", "from_value", "to_value", "body"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Read-only: tickets change through the portal's actions so every step is on the timeline."""

    list_display = ["id", "title", "partner", "severity", "status", "assignee", "received_at", "next_due_at"]
    list_filter = ["status", "severity", "plan", "category"]
    list_select_related = ["partner", "assignee"]
    search_fields = ["title", "customer_name", "partner__name"]
    date_hierarchy = "received_at"
    inlines = [TicketEventInline]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(TicketAttachment)
class TicketAttachmentAdmin(admin.ModelAdmin):
    list_display = ["original_name", "ticket", "content_type", "size", "uploaded_by", "uploaded_at", "public"]
    list_select_related = ["ticket", "uploaded_by"]
    search_fields = ["original_name", "ticket__title"]
    readonly_fields = ["ticket", "file", "original_name", "content_type", "size", "uploaded_by", "uploaded_at"]

    def has_add_permission(self, request):
        return False
