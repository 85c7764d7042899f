from datetime import datetime, timedelta

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone

from programs.models import SUPPORT_ROLES, Partner, User
from support.models import Escalation, Severity, SupportPlan, Ticket
from support.pages.tables import SLA_LABELS
from support.rules import sla, ticket_states

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


class QueueFilter(TicketFilter):
    """The queue's filters: the ticket filters, a search box and an agent's saved views."""

    VIEWS = {
        "mine": "Assigned to me",
        "unassigned": "Unassigned",
        "breaching": "Breaching within the hour",
        "escalated": "Escalated to me",
    }
    q = django_filters.CharFilter(label="Search", method="filter_search", max_length=200)
    view = django_filters.ChoiceFilter(choices=list(VIEWS.items()), method="filter_view", widget=forms.HiddenInput)

    class Meta(TicketFilter.Meta):
        fields = ["q", *TicketFilter.Meta.fields, "view"]

    def filter_search(self, queryset, name, value):
        return search(queryset, value, also=("partner__name",))

    def filter_view(self, queryset, name, value):
        return in_view(queryset, value, self.request.user, timezone.now())


class PartnerTicketFilter(django_filters.FilterSet):
    """A partner's own list: a search box, open or finished, severity."""

    FINISHED = "finished"
    q = django_filters.CharFilter(label="Search", method="filter_search", max_length=200)
    status = django_filters.ChoiceFilter(
        choices=[(OPEN, "Open"), (FINISHED, "Resolved or closed")], method="filter_status", empty_label="Any status"
    )
    severity = django_filters.ChoiceFilter(choices=Severity.choices, empty_label="Any severity")

    class Meta:
        model = Ticket
        fields = ["q", "status", "severity"]

    def filter_search(self, queryset, name, value):
        return search(queryset, value)

    def filter_status(self, queryset, name, value):
        return queryset.open() if value == OPEN else queryset.filter(status__in=ticket_states.FINISHED_STATUSES)


def search(tickets: QuerySet[Ticket], text: str, also: tuple[str, ...] = ()) -> QuerySet[Ticket]:
    """A number finds that ticket ("#123" too) and titles holding it; words find titles (and the `also` fields)."""
    text = text.strip()
    if not text:
        return tickets
    number = text.removeprefix("#")
    if number.isdigit() and len(number) < 19:
        return tickets.filter(Q(pk=int(number)) | Q(title__icontains=text))
    matches = Q(title__icontains=text)
    for field in also:
        matches |= Q(**{f"{field}__icontains": text})
    return tickets.filter(matches)


# An agent's working sets: the queue's saved views and the staff home's cards.
VIEWS = QueueFilter.VIEWS


def in_view(tickets: QuerySet[Ticket], view: str, user: User, now: datetime) -> QuerySet[Ticket]:
    """Return the tickets of one of an agent's working sets (`VIEWS`)."""
    if view == "mine":
        return tickets.filter(assignee=user)
    if view == "unassigned":
        return tickets.filter(assignee__isnull=True)
    if view == "escalated":
        return tickets.filter(pk__in=Escalation.objects.filter(assignee=user).values("ticket"))
    if view == "breaching":  # a running deadline within the next hour, not yet passed
        return tickets.filter(next_due_at__gt=now, next_due_at__lte=now + timedelta(hours=1))
    raise ValueError(f"Unknown view {view!r}: one of {', '.join(VIEWS)}.")
