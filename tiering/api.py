"""API: a partner's standings with per-criterion progress; re-tier runs and results for program managers."""

import django_filters
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers

from partnerportal.api import IsPartner, schema_only, staff_roles
from programs.models import StaffRole

from . import selectors
from .ladder_rules import ResultWording
from .models import RetierResult, RetierRun

# --- Standings -------------------------------------------------------------------------------------


class CriterionProgressSerializer(serializers.Serializer):
    key = serializers.CharField(source="criterion.key")
    label = serializers.CharField(source="criterion.label")  # type: ignore[assignment]  # a declared field: DRF's metaclass moves it off the class
    unit = serializers.CharField(source="criterion.unit")
    window = serializers.CharField(source="criterion.window")
    threshold = serializers.DecimalField(source="criterion.threshold", max_digits=20, decimal_places=2)
    value = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    passed = serializers.BooleanField()
    progress = serializers.IntegerField(help_text="The value as a percentage of the threshold, capped at 100.")


class TierProgressSerializer(serializers.Serializer):
    tier = serializers.CharField(source="tier.name")
    rank = serializers.IntegerField(source="tier.rank")
    passed = serializers.BooleanField()
    gate_required = serializers.BooleanField(help_text="The 4C qualification gate must pass for this tier.")
    gate_passed = serializers.BooleanField(allow_null=True)
    criteria = CriterionProgressSerializer(many=True)


class PolicySummarySerializer(serializers.Serializer):
    version = serializers.IntegerField()
    effective_from = serializers.DateField()
    summary = serializers.CharField()


class UpcomingPolicySerializer(PolicySummarySerializer):
    landing_tier = serializers.CharField(
        allow_null=True, help_text="The tier today's figures would earn under it (null: none)."
    )
    tiers = TierProgressSerializer(many=True)


class StandingSerializer(serializers.Serializer):
    motion = serializers.CharField(source="ladder.motion.slug")
    ladder = serializers.CharField(source="ladder.name")
    tier = serializers.CharField(source="tier.name", allow_null=True, default=None)
    since = serializers.DateField(source="standing.since", allow_null=True, default=None)
    grandfathered_until = serializers.DateField(source="standing.grandfathered_until", allow_null=True, default=None)
    pending_tier = serializers.CharField(source="standing.pending_tier.name", allow_null=True, default=None)
    policy = PolicySummarySerializer(allow_null=True)
    keep = TierProgressSerializer(allow_null=True, help_text="What it takes to keep the tier held, today.")
    next_tier = TierProgressSerializer(allow_null=True, help_text="What is missing for the tier above, today.")
    at_risk = serializers.BooleanField(help_text="Figures leaving the window would drop the tier at the next re-tier.")
    next_retier = serializers.DateField(source="next_run")
    upcoming_policy = serializers.SerializerMethodField()

    @extend_schema_field(UpcomingPolicySerializer(allow_null=True))
    def get_upcoming_policy(self, standing):
        policy = standing.upcoming
        if policy is None:
            return None
        landing = standing.upcoming_landing
        results = standing.under_upcoming.tiers if standing.under_upcoming else ()
        return {
            **PolicySummarySerializer(policy).data,
            "landing_tier": landing.name if landing else None,
            "tiers": TierProgressSerializer(results, many=True).data,
        }


class StandingList(generics.ListAPIView):
    """My partner's tier in each motion, what it takes to keep it and to move up, and the upcoming policy."""

    serializer_class = StandingSerializer
    permission_classes = [IsPartner]
    filter_backends = []  # computed per motion, not a query: ?motion= is applied below

    @extend_schema(parameters=[OpenApiParameter("motion", str, description="Only this motion (its slug).")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if schema_only(self):
            return []
        standings = selectors.partner_tiers(self.request.user.membership.partner, timezone.localdate())
        motion = self.request.query_params.get("motion")
        return [s for s in standings if s.ladder.motion.slug == motion] if motion else standings


# --- Re-tier runs -----------------------------------------------------------------------------------

PROGRAM_MANAGERS = staff_roles(StaffRole.PROGRAM_MANAGER)
RUNS = RetierRun.objects.select_related("ladder", "policy", "created_by")


class RetierRunSerializer(serializers.ModelSerializer):
    ladder = serializers.CharField(source="ladder.name", allow_null=True, default=None)
    policy_version = serializers.IntegerField(source="policy.version", allow_null=True, default=None)
    created_by = serializers.EmailField(source="created_by.email", allow_null=True, default=None)
    progress_percent = serializers.IntegerField()

    class Meta:
        model = RetierRun
        fields = [
            "id",
            "kind",
            "status",
            "as_of",
            "ladder",
            "policy_version",
            "total",
            "processed",
            "progress_percent",
            "summary",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]


class RetierRunFilter(django_filters.FilterSet):
    as_of_after = django_filters.DateFilter(field_name="as_of", lookup_expr="gte")
    as_of_before = django_filters.DateFilter(field_name="as_of", lookup_expr="lte")

    class Meta:
        model = RetierRun
        fields = ["kind", "status", "ladder"]


class RetierRunList(generics.ListAPIView):
    """Re-tier runs and dry runs, newest first."""

    serializer_class = RetierRunSerializer
    permission_classes = [PROGRAM_MANAGERS]
    filterset_class = RetierRunFilter
    ordering_fields = ["created_at", "as_of"]
    ordering = ["-created_at"]
    queryset = RUNS


class RetierRunDetail(generics.RetrieveAPIView):
    serializer_class = RetierRunSerializer
    permission_classes = [PROGRAM_MANAGERS]
    queryset = RUNS


class ResultCriterionSerializer(serializers.Serializer):
    key = serializers.CharField()
    tier = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a declared field: DRF's metaclass moves it off the class
    threshold = serializers.DecimalField(max_digits=20, decimal_places=2)
    value = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    passed = serializers.BooleanField()


class RetierResultSerializer(serializers.ModelSerializer):
    partner = serializers.CharField(source="partner.name")
    partner_id = serializers.IntegerField()
    ladder = serializers.CharField(source="ladder.name")
    current_tier = serializers.CharField(source="current_tier.name", allow_null=True, default=None)
    computed_tier = serializers.CharField(source="computed_tier.name", allow_null=True, default=None)
    reason = serializers.SerializerMethodField()
    criteria = serializers.SerializerMethodField()

    class Meta:
        model = RetierResult
        fields = [
            "id",
            "partner",
            "partner_id",
            "ladder",
            "current_tier",
            "computed_tier",
            "move",
            "gate_passed",
            "exit_candidate",
            "deciding",
            "reason",
            "criteria",
        ]

    def get_reason(self, result) -> str:
        return self.context["wording"].reason(result)

    @extend_schema_field(ResultCriterionSerializer(many=True))
    def get_criteria(self, result):
        attribution = selectors.result_attribution(self.context["run"], result, self.context["criteria"]) or []
        rows = [
            {
                "key": outcome.criterion.key,
                "tier": tier_name,
                "label": outcome.criterion.label,
                "threshold": outcome.criterion.threshold,
                "value": outcome.value,
                "passed": outcome.passed,
            }
            for tier_name, outcome in attribution
        ]
        return ResultCriterionSerializer(rows, many=True).data


class RetierResultFilter(django_filters.FilterSet):
    class Meta:
        model = RetierResult
        fields = ["move", "ladder", "partner", "exit_candidate"]


class RetierResultList(generics.ListAPIView):
    """One row per partner × ladder of a run: current and computed tier, the move, and why."""

    serializer_class = RetierResultSerializer
    permission_classes = [PROGRAM_MANAGERS]
    filterset_class = RetierResultFilter
    ordering_fields = ["partner__name", "move", "id"]
    ordering = ["ladder_id", "partner__name"]

    def run(self) -> RetierRun:
        if not hasattr(self, "_run"):
            self._run = generics.get_object_or_404(RetierRun.objects.all(), pk=self.kwargs["pk"])
        return self._run

    def get_queryset(self):
        if schema_only(self):
            return RetierResult.objects.none()
        return RetierResult.objects.filter(run=self.run()).select_related(
            "partner", "ladder", "current_tier", "computed_tier"
        )

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if schema_only(self):
            return context
        run = self.run()
        return {**context, "run": run, "criteria": selectors.run_criteria(run), "wording": ResultWording(run)}
