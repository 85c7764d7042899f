import django_filters
from django import forms
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from programs.models import SUPPORT_ROLES, Partner, User
from support.models import Severity, SupportPlan, Ticket

OPEN = "open"


def sla_state_q(state: str, now) -> Q:
    """Return the condition for tickets whose SLA state (see Ticket.sla_state) is `state`."""
    # The same rules as Ticket.sla_state, as a query.
    unanswered = Q(first_response_at__isnull=True)
    breached = (
        (unanswered & Q(first_response_due__lt=now))
        | Q(first_response_at__gt=F("first_response_due"))
        | Q(resolution_due__lt=Coalesce("resolved_at", Value(now)))
    )
    warning = (
        (unanswered & Q(first_response_warn_at__lte=now)) | Q(resolution_warn_at__lte=now) | Q(update_warn_at__lte=now)
    )
    paused = Q(status=Ticket.Status.WAITING_ON_PARTNER)
    return {
        "breached": breached,
        "warning": warning & ~breached,
        "paused": paused & ~breached,
        "ok": ~breached & ~warning & ~paused,
    }[state]


class TicketFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=[(OPEN, "All open"), *Ticket.Status.choices], method="filter_status", empty_label="Any status"
    )
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    # By name on the page (a select of every partner costs more than the rest of the page at 1,000
    # partners); by id in links and the API, carried along as a hidden field.
    partner_name = django_filters.CharFilter(field_name="partner__name", lookup_expr="icontains", label="Partner")
    partner = django_filters.ModelChoiceFilter(queryset=Partner.objects.all(), widget=forms.HiddenInput)
    plan = django_filters.ModelChoiceFilter(queryset=SupportPlan.objects.all())
    assignee = django_filters.ModelChoiceFilter(
        queryset=User.objects.filter(groups__name__in=[role.label for role in SUPPORT_ROLES]).distinct()
    )
    sla_state = django_filters.ChoiceFilter(
        label="SLA",
        choices=[("breached", "Breached"), ("warning", "Warning"), ("paused", "Paused"), ("ok", "On track")],
        method="filter_sla_state",
    )

    class Meta:
        model = Ticket
        fields = ["status", "severity", "partner_name", "partner", "plan", "assignee", "sla_state"]

    def filter_status(self, queryset, name, value):
        return queryset.open() if value == OPEN else queryset.filter(status=value)

    def filter_sla_state(self, queryset, name, value):
        return queryset.filter(sla_state_q(value, timezone.now()))
