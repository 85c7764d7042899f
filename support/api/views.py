"""API: support plan and contacts, tickets and their timelines, the knowledge base, staff queue and reports.

Scoping is the pages' own: `Ticket.objects.for_user`, `TicketEvent.objects.visible_to`,
`Article.objects.visible_to`; another partner's ticket answers 404. Writes call the same services as the pages.
"""

from datetime import UTC, datetime

import django_filters
from django.db.models import F
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from partnerportal.api import CursorPagination, InstantFilter, IsPartner, Pagination, schema_only, staff_roles
from programs.models import SUPPORT_ROLES, Partner, StaffRole, User
from support import entitlement
from support.api.serializers import (
    ATTACHMENT_MEDIA_TYPES,
    ArticleDetailSerializer,
    ArticleMatchSerializer,
    ArticleSerializer,
    AttachmentSerializer,
    AttachmentUploadSerializer,
    CommentSerializer,
    EscalationRequestSerializer,
    MySupportSerializer,
    OnCallSerializer,
    QueueTicketSerializer,
    ScoreboardQuerySerializer,
    ScoreboardSerializer,
    TicketCreateSerializer,
    TicketDetailSerializer,
    TicketSerializer,
    TransitionSerializer,
)
from support.escalation import services as escalations
from support.escalation.routing import escalation_contacts, oncall_overview
from support.insight import metrics
from support.knowledge import search as kb
from support.models import Article, SupportPlan, Ticket, TicketAttachment, TicketEvent
from support.pages.filters import TicketFilter
from support.pages.tickets import attachment_response
from support.tickets import lifecycle
from support.tickets.representation import EventSerializer

SUPPORT_STAFF = staff_roles(*SUPPORT_ROLES)
REPORT_READERS = staff_roles(*SUPPORT_ROLES, StaffRole.PROGRAM_MANAGER)


class Unprocessable(exceptions.APIException):
    status_code = 422
    default_code = "idempotency_key_reused"


# --- Support plan ----------------------------------------------------------------------------------


class MySupportView(generics.GenericAPIView):
    """My partner's support plan, its SLA targets per severity, and the escalation contacts to use."""

    serializer_class = MySupportSerializer
    permission_classes = [IsPartner]

    def get(self, request):
        plan, standing = entitlement.plan_entitlement(request.user.membership.partner)
        if plan is not None:
            plan = (
                SupportPlan.objects.select_related("calendar")
                .prefetch_related("targets", "calendar__windows")
                .get(pk=plan.pk)
            )
        entitled_by = f"{standing.ladder.motion.name}: {standing.tier.name}" if standing else None
        body = {
            "plan": plan,
            "entitled_by": entitled_by,
            "escalation_contacts": escalation_contacts(plan, timezone.now()),
        }
        return Response(self.get_serializer(body).data)


# --- Tickets ---------------------------------------------------------------------------------------


class TicketApiFilter(TicketFilter):
    """The queue's filters, plus time windows for integrations that sync; partners name only their own partner."""

    category = django_filters.ChoiceFilter(choices=Ticket.Category.choices)
    received_after = InstantFilter(field_name="received_at", lookup_expr="gte")
    received_before = InstantFilter(field_name="received_at", lookup_expr="lt")
    updated_since = InstantFilter(
        field_name="updated_at", lookup_expr="gte", label="Changed at or after (for syncing)."
    )

    class Meta(TicketFilter.Meta):
        fields = [*TicketFilter.Meta.fields, "category", "received_after", "received_before", "updated_since"]

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        if request is not None:
            self.filters["partner"].queryset = Partner.objects.for_user(request.user)
            if not request.user.is_portal_staff:
                # Only the people on the partner's own tickets: any other id, staff or not, answers alike.
                assigned = Ticket.objects.for_user(request.user).values("assignee")
                self.filters["assignee"].queryset = User.objects.filter(pk__in=assigned)


class EventFilter(django_filters.FilterSet):
    since = InstantFilter(field_name="at", lookup_expr="gte", label="At or after (for syncing).")

    class Meta:
        model = TicketEvent
        fields = ["kind", "since"]


# The cursor keeps its place by the first ordering field: only (nearly) unique, never-null fields,
# or a page deep into a run of ties would be found by OFFSET. Severity order is on the queue.
TICKET_ORDERING = ["received_at", "updated_at", "id"]


@extend_schema(tags=["tickets"])
class TicketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Tickets: yours as a partner, all of them as staff. Filing one starts its SLA clocks."""

    filterset_class = TicketApiFilter
    ordering_fields = TICKET_ORDERING
    ordering = ["-received_at", "-id"]
    pagination_class = CursorPagination
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def get_queryset(self):
        if schema_only(self):
            return Ticket.objects.none()
        return Ticket.objects.for_user(self.request.user).for_queue()

    def get_object(self):
        # The list's filters are not the ticket's: a detail route finds its ticket in the scope alone.
        ticket = generics.get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])
        self.check_object_permissions(self.request, ticket)
        return ticket

    def get_permissions(self):
        if self.action in ("create", "escalation_requests"):  # filed and escalated by partners only
            return [IsPartner()]
        return super().get_permissions()

    def get_serializer_class(self):
        return {
            "list": TicketSerializer,
            "create": TicketCreateSerializer,
            "comments": CommentSerializer,
            "attachments": AttachmentUploadSerializer if self.request.method == "POST" else AttachmentSerializer,
            "transitions": TransitionSerializer,
            "escalation_requests": EscalationRequestSerializer,
        }.get(self.action, TicketDetailSerializer)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}

    def _files(self, ticket):
        """Return the ticket's files the requester may see (partners: not those of internal notes)."""
        return TicketAttachment.objects.visible_to(self.request.user).filter(ticket=ticket)

    def _detail(self, ticket, status_code=status.HTTP_200_OK, headers=None):
        ticket = self.get_queryset().get(pk=ticket.pk)
        return Response(
            TicketDetailSerializer(ticket, context=self.get_serializer_context()).data, status_code, headers=headers
        )

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Any unique string up to 200 characters: a retry with the same key and body "
                "answers 200 with the ticket already filed, never a second ticket.",
            )
        ],
        responses={
            201: TicketDetailSerializer,
            200: OpenApiResponse(TicketDetailSerializer, description="A retry: the ticket this key filed."),
            422: OpenApiResponse(description="The key was used for a different request."),
        },
    )
    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        partner = request.user.membership.partner
        key = request.headers.get("Idempotency-Key")
        if key is None:
            ticket = lifecycle.open_ticket(partner, submitter=request.user, **serializer.validated_data)
            return self._detail(ticket, status.HTTP_201_CREATED)
        key = key.strip()
        if not key or len(key) > 200:
            raise exceptions.ValidationError({"Idempotency-Key": "Give a key of 1 to 200 characters."})
        try:
            ticket, replayed = lifecycle.open_ticket_once(
                partner, submitter=request.user, key=key, **serializer.validated_data
            )
        except lifecycle.IdempotencyKeyReused as error:
            raise Unprocessable(str(error)) from None
        return self._detail(ticket, status.HTTP_200_OK if replayed else status.HTTP_201_CREATED)

    @extend_schema(request=CommentSerializer, responses={201: EventSerializer})
    @action(detail=True, methods=["post"])
    def comments(self, request, pk=None):
        """Reply on the ticket; staff may add an internal note. A partner's reply resumes a paused clock."""
        ticket = self.get_object()
        serializer = CommentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = lifecycle.add_comment(
            ticket,
            by=request.user,
            body=serializer.validated_data["body"],
            public=not serializer.validated_data["internal"],
        )
        return Response(EventSerializer(event).data, status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], responses=AttachmentSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer},
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[], pagination_class=Pagination)
    def attachments(self, request, pk=None):
        """The ticket's files (GET), or attach one (POST, multipart)."""
        ticket = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(self._files(ticket).order_by("uploaded_at", "pk"))
            return self.get_paginated_response(
                AttachmentSerializer(page, many=True, context=self.get_serializer_context()).data
            )
        serializer = AttachmentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        event = lifecycle.add_comment(
            ticket, by=request.user, body="", public=not serializer.validated_data["internal"], attachments=[upload]
        )
        [attachment] = event.stored_attachments
        return Response(
            AttachmentSerializer(attachment, context=self.get_serializer_context()).data, status.HTTP_201_CREATED
        )

    @extend_schema(
        responses={(200, media_type): OpenApiTypes.BINARY for media_type in ATTACHMENT_MEDIA_TYPES},
        parameters=[OpenApiParameter("attachment_pk", int, OpenApiParameter.PATH)],
    )
    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<attachment_pk>[0-9]+)", url_name="attachment")
    def attachment(self, request, pk=None, attachment_pk=None):
        """Download one file, always as an attachment (never rendered inline)."""
        return attachment_response(generics.get_object_or_404(self._files(self.get_object()), pk=attachment_pk))

    @extend_schema(request=TransitionSerializer, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def transitions(self, request, pk=None):
        """Change the status: partners close and reopen; support staff acknowledge, start, wait and resolve too."""
        ticket = self.get_object()
        serializer = TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ticket = lifecycle.transition_ticket(ticket, by=request.user, **serializer.validated_data)
        return self._detail(ticket)

    @extend_schema(request=EscalationRequestSerializer, responses=TicketDetailSerializer)
    @action(detail=True, methods=["post"], url_path="escalation-requests")
    def escalation_requests(self, request, pk=None):
        """Ask for escalation to the next level, where your plan includes it."""
        ticket = self.get_object()
        serializer = EscalationRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ticket = escalations.request_escalation(ticket, by=request.user, **serializer.validated_data)
        return self._detail(ticket)


@extend_schema(tags=["tickets"])
class TicketEventList(generics.ListAPIView):
    """A ticket's timeline, oldest first (internal notes for staff only)."""

    serializer_class = EventSerializer
    filterset_class = EventFilter
    ordering_fields = ["at"]
    ordering = ["at", "id"]

    def get_queryset(self):
        if schema_only(self):
            return TicketEvent.objects.none()
        ticket = generics.get_object_or_404(Ticket.objects.for_user(self.request.user), pk=self.kwargs["pk"])
        return TicketEvent.objects.visible_to(self.request.user).filter(ticket=ticket).select_related("actor")


@extend_schema(tags=["staff"])
class QueueView(generics.ListAPIView):
    """The support queue: open tickets by the deadline that runs next (the same filters as the queue page)."""

    serializer_class = QueueTicketSerializer
    permission_classes = [SUPPORT_STAFF]
    filterset_class = TicketApiFilter
    ordering_fields = [*TICKET_ORDERING, "severity", "next_due_at"]
    ordering = [F("next_due_at").asc(nulls_last=True), "id"]

    def get_queryset(self):
        if schema_only(self):
            return Ticket.objects.none()
        return Ticket.objects.for_user(self.request.user).for_queue()

    def filter_queryset(self, queryset):
        if "status" not in self.request.query_params:
            queryset = queryset.open()
        return super().filter_queryset(queryset)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}


# --- Knowledge base --------------------------------------------------------------------------------


@extend_schema(tags=["knowledge base"])
class ArticleViewSet(viewsets.ReadOnlyModelViewSet):
    """Published knowledge-base articles you may read."""

    lookup_field = "slug"
    filterset_fields = {"category__slug": ["exact"]}
    ordering_fields = ["title", "updated_at"]
    ordering = ["title"]

    def get_queryset(self):
        if schema_only(self):
            return Article.objects.none()
        return Article.objects.visible_to(self.request.user).select_related("category")

    def get_serializer_class(self):
        return ArticleDetailSerializer if self.action == "retrieve" else ArticleSerializer

    def retrieve(self, request, *args, **kwargs):
        article = self.get_object()
        Article.objects.filter(pk=article.pk).update(views=F("views") + 1)
        return Response(ArticleDetailSerializer(article, context=self.get_serializer_context()).data)


QUERY = OpenApiParameter("q", str, required=True, description="What you are looking for (3 characters or more).")


class _ArticleSearch(generics.ListAPIView):
    serializer_class = ArticleMatchSerializer
    filter_backends = []
    limit = 20

    @extend_schema(parameters=[QUERY])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if schema_only(self):
            return []
        query = self.request.query_params.get("q", "")
        if len(query) > 200:
            raise exceptions.ValidationError({"q": "Search for 200 characters at most."})
        return kb.search(query, user=self.request.user, limit=self.limit)


@extend_schema(tags=["knowledge base"])
class ArticleSearch(_ArticleSearch):
    """Articles ranked for a query, best first (at most 20)."""


@extend_schema(tags=["knowledge base"])
class ArticleSuggest(_ArticleSearch):
    """The three best articles for a ticket title being typed (the last word may be unfinished)."""

    limit = 3


# --- Staff ---------------------------------------------------------------------------------------


@extend_schema(tags=["staff"])
class OnCallView(generics.ListAPIView):
    """Every on-call schedule: who is on call now, and the shifts of the next seven days."""

    serializer_class = OnCallSerializer
    permission_classes = [SUPPORT_STAFF]
    filter_backends = []

    def get_queryset(self):
        return [] if schema_only(self) else oncall_overview(timezone.now(), days=7)


@extend_schema(tags=["staff"])
class ScoreboardView(generics.GenericAPIView):
    """The month's support figures against the targets, grouped by partner, plan, severity, tier or week."""

    serializer_class = ScoreboardSerializer
    permission_classes = [REPORT_READERS]
    filter_backends = []

    @extend_schema(parameters=[ScoreboardQuerySerializer])
    def get(self, request):
        query = ScoreboardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        if "month" in query.validated_data:
            month = datetime.strptime(query.validated_data["month"], "%Y-%m").date()
        else:
            month = timezone.localdate(timezone=UTC).replace(day=1)
        by = query.validated_data["by"]
        start, end = metrics.month_bounds(month, UTC)
        tickets = metrics.received_between(start, end)
        totals = metrics.overall_figures(tickets)
        grouped = metrics.figures_by(tickets, by=(by,), percentiles=by != "partner")
        names = _group_names(by, [key[0] for key in grouped])
        body = {
            "month": f"{month:%Y-%m}",
            "by": by,
            "totals": totals,
            "targets": [
                {"label": target.label, "target": target.shown_as, "value": value, "status": state}
                for target, value, state in metrics.against_targets(totals)
            ],
            "deflection": metrics.deflection(start, end),
            "groups": [
                {"key": names.get(key[0], key[0]), "figures": value}
                for key, value in sorted(grouped.items(), key=lambda row: -row[1].tickets)
            ],
        }
        return Response(self.get_serializer(body).data)


def _group_names(by: str, keys) -> dict:
    """Return the name to show for each group key: the partner's, plan's or tier's name, a week's date."""
    from tiering.models import Tier

    models: dict[str, type[Partner] | type[SupportPlan] | type[Tier]] = {
        "partner": Partner,
        "plan": SupportPlan,
        "tier": Tier,
    }
    model = models.get(by)
    if model is not None:
        found = model.objects.in_bulk([key for key in keys if key is not None])
        return {key: str(found.get(key, key)) for key in keys} | {None: "none"}
    return {key: key.date().isoformat() if hasattr(key, "date") else str(key) for key in keys} | {None: "none"}
