"""API: a partner admin's webhook endpoints, their delivery log, test events, rotation and replays."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from partnerportal.api import IsPartnerAdmin, schema_only
from programs.models import EventType, WebhookAttempt, WebhookDelivery, WebhookEndpoint

from . import endpoints as services


class EndpointSerializer(serializers.ModelSerializer):
    # Checked by the service (scheme, length, addresses after resolving), which says what is wrong.
    url = serializers.CharField(max_length=2000, help_text="A public https:// address that receives the events.")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.subscribable()), allow_empty=False, max_length=50
    )
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "is_active",
            "failing_since",
            "disabled_at",
            "disabled_reason",
            "created_at",
        ]
        read_only_fields = ["failing_since", "disabled_at", "disabled_reason", "created_at"]


class EndpointWithSecretSerializer(EndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="The signing secret: shown in this answer only.")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class EndpointStateSerializer(serializers.Serializer):
    is_active = serializers.BooleanField()


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = [
            "number",
            "at",
            "request_headers",
            "response_status",
            "response_body",
            "error",
            "duration_ms",
            "replay",
        ]


class DeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.CharField(source="message.msg_id")
    event_type = serializers.CharField(source="message.event_type")
    body = serializers.CharField(source="message.body", help_text="The JSON sent, exactly as signed.")
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "webhook_id",
            "event_type",
            "state",
            "attempts",
            "next_attempt_at",
            "last_status",
            "created_at",
            "delivered_at",
            "body",
            "attempt_log",
        ]


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> dict[str, Any]:
    endpoint.secret = secret
    return EndpointWithSecretSerializer(endpoint).data


class WebhookEndpointViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
    mixins.DestroyModelMixin, viewsets.GenericViewSet,
):  # fmt: skip
    """My partner's webhook endpoints (partner admins only)."""

    serializer_class = EndpointSerializer
    permission_classes = [IsPartnerAdmin]
    ordering_fields = ["created_at", "url"]
    ordering = ["created_at"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if schema_only(self):
            return WebhookEndpoint.objects.none()
        return WebhookEndpoint.objects.for_user(self.request.user).filter(partner=self.request.user.membership.partner)

    @extend_schema(responses={201: EndpointWithSecretSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = {name: serializer.validated_data.get(name, "") for name in ("url", "event_types", "description")}
        endpoint, secret = services.register_endpoint(request.user.membership.partner, **fields, by=request.user)
        return Response(_with_secret(endpoint, secret), status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        endpoint = self.get_object()
        serializer = self.get_serializer(endpoint, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.change_endpoint(endpoint, **serializer.validated_data, by=request.user)
        return Response(EndpointSerializer(endpoint).data)

    def perform_destroy(self, instance):
        services.remove_endpoint(instance, by=self.request.user)

    @extend_schema(request=None, responses={200: EndpointWithSecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """Make a new secret; for 24 hours the old one signs too."""
        endpoint = self.get_object()
        return Response(_with_secret(endpoint, services.rotate_secret(endpoint, by=request.user)))

    @extend_schema(request=EndpointStateSerializer, responses={200: EndpointSerializer})
    @action(detail=True, methods=["post"], url_path="state")
    def set_state(self, request, pk=None):
        """Pause (`is_active: false`) or resume sending; resuming sends what waited."""
        endpoint = self.get_object()
        serializer = EndpointStateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.set_endpoint_enabled(
            endpoint, enabled=serializer.validated_data["is_active"], by=request.user
        )
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(request=None, responses={200: DeliverySerializer})
    @action(detail=True, methods=["post"], url_path="test")
    def send_test(self, request, pk=None):
        """Send a `webhook.test` event now; the answer shows what the endpoint replied."""
        sent = services.send_test_event(self.get_object(), by=request.user)
        return Response(DeliverySerializer(self._delivery(sent.delivery.pk)).data)

    @extend_schema(responses={200: DeliverySerializer(many=True)})
    @action(detail=True, methods=["get"], url_path="deliveries")
    def deliveries(self, request, pk=None):
        """The endpoint's delivery log, newest first; `?state=pending|delivered|failed`."""
        log = self._log(self.get_object())
        state = request.query_params.get("state")
        if state:
            if state not in WebhookDelivery.State.values:
                raise serializers.ValidationError({"state": f"Use one of: {', '.join(WebhookDelivery.State.values)}."})
            log = log.filter(state=state)
        page = self.paginate_queryset(log)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"], url_path=r"deliveries/(?P<delivery_pk>[0-9]+)/replay")
    def replay(self, request, pk=None, delivery_pk=None):
        """Send a delivery again with the same webhook-id."""
        delivery = get_object_or_404(self._log(self.get_object()), pk=delivery_pk)
        services.replay_delivery(delivery, by=request.user)
        return Response(DeliverySerializer(self._delivery(delivery.pk)).data, status=status.HTTP_202_ACCEPTED)

    def _log(self, endpoint):
        return (
            WebhookDelivery.objects.for_user(self.request.user)
            .filter(endpoint=endpoint)
            .select_related("message")
            .prefetch_related("attempt_log")
        )

    def _delivery(self, pk: int) -> WebhookDelivery:
        return self._log(WebhookDelivery.objects.get(pk=pk).endpoint).get(pk=pk)
