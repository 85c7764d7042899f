"""How a ticket and its timeline look from outside: the API's serializers, and the webhook payloads built from them.

Here, below the pages and the API, so the services that write the webhook outbox in the
transaction of a change can use the very shapes the API answers with.
"""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from programs.api import PartnerSummarySerializer
from support.models import Ticket, TicketEvent
from support.rules import sla


def absolute(serializer: serializers.BaseSerializer[Any], url: str) -> str:
    """Return `url` as a full address when the serializer knows the request or is asked to (API clients, webhooks)."""
    request = serializer.context.get("request")
    if request:
        return str(request.build_absolute_uri(url))
    return str(settings.PORTAL_URL) + url if serializer.context.get("absolute") else url


class SlaSerializer(serializers.Serializer[dict[str, Any]]):
    state = serializers.ChoiceField(choices=sla.SLA_STATES)
    first_response_due = serializers.DateTimeField(allow_null=True)
    first_response_at = serializers.DateTimeField(allow_null=True)
    resolution_due = serializers.DateTimeField(allow_null=True, help_text="Null while the clock is paused.")
    update_due = serializers.DateTimeField(allow_null=True, help_text="When our next status update is due (P1/P2).")
    paused_seconds = serializers.IntegerField(help_text="Business time spent waiting on the partner.")


class TicketSerializer(serializers.ModelSerializer[Ticket]):
    url = serializers.SerializerMethodField()
    partner = PartnerSummarySerializer()
    submitter = serializers.EmailField(source="submitter.email")
    assignee = serializers.SerializerMethodField()
    sla = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = [
            "id",
            "url",
            "title",
            "status",
            "severity",
            "category",
            "customer_name",
            "environment",
            "partner",
            "submitter",
            "assignee",
            "escalation_level",
            "received_at",
            "updated_at",
            "resolved_at",
            "closed_at",
            "sla",
        ]

    def get_url(self, ticket: Ticket) -> str:
        return absolute(self, reverse("api:ticket-detail", args=[ticket.pk]))

    def get_assignee(self, ticket: Ticket) -> str | None:
        return ticket.assignee.get_full_name() if ticket.assignee else None

    @staticmethod
    def _sla(ticket: Ticket, now: datetime) -> dict[str, Any]:
        return {
            "state": ticket.sla_state(now),
            "first_response_due": ticket.first_response_due,
            "first_response_at": ticket.first_response_at,
            "resolution_due": ticket.resolution_due,
            "update_due": ticket.update_due,
            "paused_seconds": ticket.paused_seconds,
        }

    @extend_schema_field(SlaSerializer)
    def get_sla(self, ticket: Ticket) -> dict[str, Any]:
        return dict(SlaSerializer(self._sla(ticket, self.context["now"])).data)


class EventSerializer(serializers.ModelSerializer[TicketEvent]):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = TicketEvent
        fields = ["id", "kind", "at", "actor", "by_staff", "public", "body", "from_value", "to_value", "sla_target"]

    def get_actor(self, event: TicketEvent) -> str | None:
        return event.actor.get_full_name() if event.actor else None
