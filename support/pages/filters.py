import django_filters
from django import forms
from django.utils import timezone

from programs.models import SUPPORT_ROLES, Partner, User
from support.models import Severity, SupportPlan, Ticket
from support.pages.tables import SLA_LABELS
from support.rules import sla

OPEN = "open"


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
        choices=[(state, SLA_LABELS[state]) for state in sla.SLA_STATES],
        method="filter_sla_state",
    )

    class Meta:
        model = Ticket
        fields = ["status", "severity", "partner_name", "partner", "plan", "assignee", "sla_state"]

    def filter_status(self, queryset, name, value):
        return queryset.open() if value == OPEN else queryset.filter(status=value)

    def filter_sla_state(self, queryset, name, value):
        return queryset.in_sla_state(value, timezone.now())
