"""API shapes of support plans, tickets and their timelines, the knowledge base and staff reports.

Serializers read and validate; every change goes through the services of each area.
"""

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from support.insight import metrics
from support.knowledge import articles
from support.models import Article, SeverityTarget, SupportPlan, Ticket, TicketAttachment
from support.pages.forms import TicketForm
from support.tickets import lifecycle
from support.tickets.representation import TicketSerializer, absolute
from support.tickets.uploads import BINARY_TYPES, TEXT_TYPES, check_upload

# --- Support plan --------------------------------------------------------------------------------


class SeverityTargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = SeverityTarget
        fields = ["severity", "first_response_minutes", "resolution_minutes", "update_minutes"]


class SupportPlanSerializer(serializers.ModelSerializer):
    time_zone = serializers.CharField(source="calendar.time_zone")
    always_open = serializers.BooleanField(source="calendar.always_open", help_text="Support runs 24/7.")
    hours = serializers.SerializerMethodField()
    targets = SeverityTargetSerializer(many=True)

    class Meta:
        model = SupportPlan
        fields = [
            "name",
            "rank",
            "channels",
            "time_zone",
            "always_open",
            "hours",
            "includes_phone",
            "includes_dedicated_csm",
            "includes_escalation_requests",
            "includes_executive_escalation",
            "partner_responsibilities",
            "targets",
        ]

    def get_hours(self, plan) -> list[str]:
        return [str(window) for window in plan.calendar.windows.all()]


class ContactSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    role = serializers.CharField()
    name = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()
    when_to_use = serializers.CharField()
    response_minutes = serializers.IntegerField(allow_null=True)
    live = serializers.BooleanField(help_text="The name is whoever is on call right now.")


class MySupportSerializer(serializers.Serializer):
    plan = SupportPlanSerializer(allow_null=True, help_text="Null: none of the partner's tiers includes a plan yet.")
    entitled_by = serializers.CharField(allow_null=True, help_text="The motion and tier that give the plan.")
    escalation_contacts = ContactSerializer(many=True)


# --- Tickets -------------------------------------------------------------------------------------


class QueueTicketSerializer(TicketSerializer):
    """A ticket in the queue (its own schema name: the queue pages by number, the ticket list by cursor)."""


class TicketDetailSerializer(TicketSerializer):
    plan = serializers.CharField(source="plan.name")
    actions = serializers.SerializerMethodField(help_text="The status changes you may make now (POST …/transitions/).")

    class Meta(TicketSerializer.Meta):
        fields = [
            *TicketSerializer.Meta.fields,
            "environment_details",
            "steps_to_reproduce",
            "business_impact",
            "plan",
            "actions",
        ]

    def get_actions(self, ticket) -> list[str]:
        return lifecycle.available_actions(ticket, self.context["request"].user)


class TicketCreateSerializer(serializers.ModelSerializer):
    suggested_for = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        write_only=True,
        help_text="The title the knowledge-base suggestions were shown for (kb/suggest): filing anyway is "
        "counted as suggestions that did not help.",
    )

    class Meta:
        model = Ticket
        fields = [*TicketForm.Meta.fields, "suggested_for"]


class CommentSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10_000)
    internal = serializers.BooleanField(default=False, help_text="Staff only: an internal note partners never see.")


class AttachmentSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = TicketAttachment
        fields = ["id", "original_name", "content_type", "size", "uploaded_at", "public", "download_url"]

    def get_download_url(self, attachment) -> str:
        return absolute(self, reverse("api:ticket-attachment", args=[attachment.ticket_id, attachment.pk]))


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="Allowed: " + ", ".join(sorted({*BINARY_TYPES, *TEXT_TYPES})) + ". Checked by content, not name."
    )
    internal = serializers.BooleanField(default=False, help_text="Staff only: visible to staff alone.")

    def validate_file(self, upload):
        return check_upload(upload)


ATTACHMENT_MEDIA_TYPES = sorted({*BINARY_TYPES.values(), *TEXT_TYPES.values()})


class TransitionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=list(lifecycle.TRANSITIONS))
    message = serializers.CharField(
        max_length=5_000, required=False, allow_blank=True, default="", help_text="Required to reopen."
    )


class EscalationRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2_000, help_text="The impact and what changed.")
    executive = serializers.BooleanField(
        default=False, help_text="Ask for the executive level (where the plan has it)."
    )


# --- Knowledge base ------------------------------------------------------------------------------


class ArticleSerializer(serializers.ModelSerializer):
    category = serializers.CharField(source="category.name")
    url = serializers.SerializerMethodField()

    class Meta:
        model = Article
        fields = ["slug", "title", "summary", "category", "updated_at", "url"]

    def get_url(self, article) -> str:
        return absolute(self, reverse("api:article-detail", args=[article.slug]))


class ArticleDetailSerializer(ArticleSerializer):
    body_html = serializers.SerializerMethodField(help_text="The body rendered and sanitised.")

    class Meta(ArticleSerializer.Meta):
        fields = [*ArticleSerializer.Meta.fields, "body", "body_html"]

    def get_body_html(self, article) -> str:
        return str(articles.render_markdown(article.body))


class ArticleMatchSerializer(serializers.Serializer):
    article = ArticleSerializer()
    score = serializers.FloatField(help_text="0 to 1, higher is better.")


# --- Staff ---------------------------------------------------------------------------------------


class ShiftSerializer(serializers.Serializer):
    role = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    person = serializers.CharField()


class OnCallSerializer(serializers.Serializer):
    schedule = serializers.CharField(source="schedule.name")
    time_zone = serializers.CharField(source="schedule.time_zone")
    primary = serializers.CharField(source="now.primary", help_text="On call now.")
    secondary = serializers.CharField(source="now.secondary")
    levels = serializers.ListField(child=serializers.CharField(), help_text="Escalation levels that page it.")
    shifts = serializers.SerializerMethodField(help_text="The next seven days.")

    @extend_schema_field(ShiftSerializer(many=True))
    def get_shifts(self, view) -> list:
        rows = [
            {"role": role, "starts_at": start, "ends_at": end, "person": person}
            for role, spans in view.shifts.items()
            for start, end, person in spans
        ]
        # many=True makes a ListSerializer, whose .data is a list: the stubs type it as the ReturnDict.
        return ShiftSerializer(sorted(rows, key=lambda row: row["starts_at"]), many=True).data  # type: ignore[return-value]


class FiguresSerializer(serializers.Serializer):
    tickets = serializers.IntegerField()
    first_response_avg = serializers.FloatField(allow_null=True, help_text="Seconds of business time.")
    first_response_median = serializers.FloatField(allow_null=True)
    first_response_p90 = serializers.FloatField(allow_null=True)
    resolution_avg = serializers.FloatField(allow_null=True)
    resolution_median = serializers.FloatField(allow_null=True)
    resolution_p90 = serializers.FloatField(allow_null=True)
    first_response_within = serializers.FloatField(allow_null=True, help_text="Share within the SLA, 0–1.")
    resolution_within = serializers.FloatField(allow_null=True)
    sla_compliance = serializers.FloatField(allow_null=True)
    escalation_rate = serializers.FloatField(allow_null=True)
    reopen_rate = serializers.FloatField(allow_null=True)
    csat_average = serializers.FloatField(allow_null=True)
    csat_responses = serializers.IntegerField()


class TargetSerializer(serializers.Serializer):
    label = serializers.CharField()  # type: ignore[assignment]  # a declared field: DRF's metaclass moves it off the class
    target = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    status = serializers.ChoiceField(choices=["met", "missed", "no data"])


class GroupFiguresSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The partner, plan, severity, tier or week the row is for.")
    figures = FiguresSerializer()


class ScoreboardSerializer(serializers.Serializer):
    month = serializers.CharField()
    by = serializers.CharField()
    totals = FiguresSerializer()
    targets = TargetSerializer(many=True)
    deflection = serializers.DictField(child=serializers.FloatField(allow_null=True))
    groups = GroupFiguresSerializer(many=True)


class ScoreboardQuerySerializer(serializers.Serializer):
    month = serializers.RegexField(
        r"^(19|20)\d{2}-(0[1-9]|1[0-2])$", required=False, help_text="YYYY-MM; this month by default."
    )
    by = serializers.ChoiceField(choices=sorted(metrics.DIMENSIONS), default="partner")
