"""API: who I am, my partner and its members."""

import django_filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import generics, serializers

from partnerportal.api import IsPartner, schema_only

from .models import Membership, Motion, Partner, User


class PartnerSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Partner
        fields = ["id", "name", "slug"]


class MeSerializer(serializers.ModelSerializer):
    partner = serializers.SerializerMethodField()
    partner_role = serializers.SerializerMethodField()
    staff_roles = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "partner", "partner_role", "staff_roles"]

    @extend_schema_field(PartnerSummarySerializer(allow_null=True))
    def get_partner(self, user: User) -> dict | None:
        return PartnerSummarySerializer(user.partner).data if user.partner else None

    def get_partner_role(self, user) -> str | None:
        return user.membership.role if user.membership else None

    def get_staff_roles(self, user) -> list[str]:
        return sorted(user.staff_roles)


class PartnerSerializer(serializers.ModelSerializer):
    country = serializers.CharField(source="country.code")
    motions: "serializers.SlugRelatedField[Motion]" = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="slug"
    )
    partner_manager = serializers.SerializerMethodField()

    class Meta:
        model = Partner
        fields = ["id", "name", "slug", "country", "time_zone", "status", "motions", "partner_manager"]

    def get_partner_manager(self, partner) -> str | None:
        manager = partner.partner_manager
        return manager.get_full_name() if manager else None


class MemberSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")

    class Meta:
        model = Membership
        fields = ["id", "email", "full_name", "role", "is_support_contact", "joined_at"]


class MemberFilter(django_filters.FilterSet):
    class Meta:
        model = Membership
        fields = ["role", "is_support_contact"]


class MeView(generics.RetrieveAPIView):
    """The signed-in person: their partner and role, or their staff roles."""

    serializer_class = MeSerializer

    def get_object(self):
        return self.request.user


class MyPartnerView(generics.RetrieveAPIView):
    """The partner the signed-in person works for."""

    serializer_class = PartnerSerializer
    permission_classes = [IsPartner]

    def get_object(self):
        return (
            Partner.objects.for_user(self.request.user)
            .select_related("partner_manager")
            .prefetch_related("motions")
            .get(pk=self.request.user.membership.partner_id)
        )


class MemberList(generics.ListAPIView):
    """The people of my partner."""

    serializer_class = MemberSerializer
    permission_classes = [IsPartner]
    filterset_class = MemberFilter
    ordering_fields = ["joined_at", "user__email", "role"]
    ordering = ["user__email"]

    def get_queryset(self):
        if schema_only(self):
            return Membership.objects.none()
        partner = self.request.user.membership.partner
        return Membership.objects.for_user(self.request.user).filter(partner=partner).select_related("user")
