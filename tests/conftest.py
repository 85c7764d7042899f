import pytest

from programs.models import Membership, StaffRole
from tests.factories import InvitationFactory, MembershipFactory, PartnerFactory, staff_user

# The staff persona fixtures below, one per role (the access matrix walks them all).
STAFF_PERSONAS = ["support_l1", "support_l2", "engineer", "support_manager", "program_manager"]


@pytest.fixture(autouse=True)
def _test_settings(settings):
    # The manifest storage of production needs collectstatic; tests render templates without it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Hashing with the production PBKDF2 cost takes a quarter second per user created.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A fresh in-memory cache per test: API throttling counts requests in the cache, and a count
    # left by one test must not throttle the next (nor may tests flush the Redis used by Celery).
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": str(id(settings))}
    }


@pytest.fixture(autouse=True)
def _tasks_run_in_process(monkeypatch):
    """Run Celery tasks where they are sent (tests/test_celery.py sends them through a real worker)."""
    from partnerportal.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    monkeypatch.setitem(app.conf, "task_eager_propagates", True)


@pytest.fixture(autouse=True)
def _force_login_passes_the_second_factor(monkeypatch):
    """`force_login` means signed in all the way: staff also get a verified second factor.

    tests/programs/test_two_factor.py signs in through the real pages instead.
    """
    from django.test import Client

    real = Client.force_login

    def force_login(self, user, backend=None):
        real(self, user, backend)
        from programs.services import requires_two_factor

        if requires_two_factor(user):
            from django_otp import DEVICE_ID_SESSION_KEY
            from django_otp.plugins.otp_totp.models import TOTPDevice

            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            device = device or TOTPDevice.objects.create(user=user, name="Test authenticator", confirmed=True)
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture
def partner(db):
    return PartnerFactory(name="Northwind Resellers", slug="northwind")


@pytest.fixture
def other_partner_org(db):
    return PartnerFactory(name="Contoso Services", slug="contoso", country="DE", time_zone="Europe/Berlin")


@pytest.fixture
def partner_admin(partner):
    return MembershipFactory(partner=partner, role=Membership.Role.ADMIN, user__email="admin@northwind.test").user


@pytest.fixture
def partner_member(partner):
    return MembershipFactory(partner=partner, role=Membership.Role.MEMBER, user__email="member@northwind.test").user


@pytest.fixture
def other_partner(other_partner_org):
    """A partner admin of a different organisation: must never see or change `partner`'s records."""
    return MembershipFactory(
        partner=other_partner_org, role=Membership.Role.ADMIN, user__email="admin@contoso.test"
    ).user


@pytest.fixture
def pending_invitation(partner, partner_admin):
    return InvitationFactory(partner=partner, invited_by=partner_admin, email="new.colleague@northwind.test")


@pytest.fixture
def support_l1(db):
    return staff_user(StaffRole.SUPPORT_L1)


@pytest.fixture
def support_l2(db):
    return staff_user(StaffRole.SUPPORT_L2)


@pytest.fixture
def engineer(db):
    return staff_user(StaffRole.ENGINEERING)


@pytest.fixture
def support_manager(db):
    return staff_user(StaffRole.SUPPORT_MANAGER)


@pytest.fixture
def program_manager(db):
    return staff_user(StaffRole.PROGRAM_MANAGER)


@pytest.fixture
def superuser(db):
    from tests.factories import UserFactory

    return UserFactory(is_staff=True, is_superuser=True, email="root@provider.test")


@pytest.fixture
def plan(partner, other_partner_org):
    """A 24/7 plan (P2: 60 min first response, 8 h resolution) that both partners' tiers include."""
    from tests.factories import entitle, support_plan

    plan = support_plan()
    entitle(partner, plan)
    entitle(other_partner_org, plan)
    return plan


@pytest.fixture
def ticket(plan, partner, partner_member):
    """A P2 ticket of `partner`, filed by its member."""
    from tests.factories import file_ticket

    return file_ticket(partner, partner_member)


@pytest.fixture
def api_client_for(db):
    """Return a function giving an API client authenticated with a new personal token of `user`."""
    from rest_framework.test import APIClient

    from programs.services import create_api_token

    def client(user):
        api = APIClient()
        if user is not None:
            api.credentials(HTTP_AUTHORIZATION="Bearer " + create_api_token(user, name=f"Test {user.pk}-{id(api)}")[1])
        return api

    return client


@pytest.fixture
def anonymous():
    return None


PERSONAS = ["anonymous", "partner_admin", "partner_member", "other_partner", *STAFF_PERSONAS, "superuser"]


@pytest.fixture
def client_for(client):
    """Return a function that signs the test client in as a user (or leaves it anonymous)."""

    def sign_in(user):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return sign_in
