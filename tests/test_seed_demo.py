import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from programs.demo import DEMO_PASSWORD
from programs.models import Membership, MetricValue, Motion, Partner, StaffRole, User
from tiering.models import Policy, RetierRun, Standing, Tier
from tiering.selectors import partner_tiers

pytestmark = pytest.mark.django_db

LOGINS = {
    "partner-admin@demo.test": "partner admin",
    "partner-user@demo.test": "partner member",
    "other-partner@demo.test": "partner admin",
    "l1@demo.test": StaffRole.SUPPORT_L1,
    "l2@demo.test": StaffRole.SUPPORT_L2,
    "engineer@demo.test": StaffRole.ENGINEERING,
    "support-manager@demo.test": StaffRole.SUPPORT_MANAGER,
    "manager@demo.test": StaffRole.PROGRAM_MANAGER,
    "admin@demo.test": "superuser",
}


def snapshot():
    return {
        "users": sorted(User.objects.values_list("email", "full_name", "is_staff", "is_superuser", "password")),
        "partners": sorted(Partner.objects.values_list("slug", "name", "country", "time_zone", "status")),
        "memberships": sorted(Membership.objects.values_list("user__email", "partner__slug", "role")),
        "motions": sorted(Partner.objects.values_list("slug", "motions__slug")),
        "groups": sorted(User.objects.values_list("email", "groups__name")),
        "standings": sorted(
            Standing.objects.values_list("partner__slug", "tier__name", "grandfathered_until", "exit_candidate")
        ),
        "policies": sorted(Policy.objects.values_list("ladder__name", "version", "status", "effective_from")),
        "runs": RetierRun.objects.count(),
        "metric values": MetricValue.objects.count(),
    }


def test_running_it_twice_gives_the_same_data():
    call_command("seed_demo")
    first = snapshot()
    call_command("seed_demo")
    assert snapshot() == first


def test_it_creates_one_login_per_role_with_the_documented_password():
    call_command("seed_demo")
    for email, role in LOGINS.items():
        user = User.objects.get(email=email)
        assert user.check_password(DEMO_PASSWORD), email
        if isinstance(role, StaffRole):
            assert user.staff_roles == {role}, email
    assert User.objects.get(email="admin@demo.test").is_superuser
    same = Membership.objects.get(user__email="partner-user@demo.test").partner
    assert Membership.objects.get(user__email="partner-admin@demo.test").partner == same
    assert Membership.objects.get(user__email="other-partner@demo.test").partner != same


def test_partners_cover_all_three_motions():
    call_command("seed_demo")
    assert set(Motion.objects.values_list("slug", flat=True)) == {"resale", "services", "technology"}
    for slug in ("resale", "services", "technology"):
        assert Partner.objects.filter(motions__slug=slug).count() >= 2


def test_the_demo_partner_admin_can_sign_in_through_the_form(client):
    call_command("seed_demo")
    response = client.post(reverse("login"), {"username": "partner-admin@demo.test", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert "Northwind Resellers" in client.get(reverse("home")).content.decode()


@time_machine.travel(dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC), tick=False)
def test_partners_land_on_every_tier_one_grandfathered_one_at_risk_one_exit_candidate(settings):
    settings.RETIER_DATE = (1, 15)
    call_command("seed_demo")
    held = set(Standing.objects.values_list("tier", flat=True))
    assert set(Tier.objects.values_list("pk", flat=True)) <= held, "a tier nobody holds"
    assert Standing.objects.filter(grandfathered_until__isnull=False, exit_candidate=False).count() == 1
    assert Standing.objects.filter(exit_candidate=True).count() == 1
    assert Policy.objects.filter(status="published").count() == 1  # the upcoming resale policy
    northwind = Partner.objects.get(slug="northwind")
    at_risk = [m.ladder.motion.slug for m in partner_tiers(northwind, dt.date(2026, 11, 23)) if m.at_risk]
    assert at_risk == ["resale"]
