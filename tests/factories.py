import secrets
from datetime import timedelta

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from programs.models import Invitation, Membership, Motion, Partner, StaffRole, User, hash_token

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save()


def staff_user(role: StaffRole, **kwargs) -> User:
    """Return a new staff member holding `role` (admin access for the managers, as in production)."""
    kwargs.setdefault("is_staff", role in {StaffRole.PROGRAM_MANAGER, StaffRole.SUPPORT_MANAGER})
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=role.label))
    return user


class MotionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Motion
        django_get_or_create = ["slug"]

    slug = factory.Iterator(["resale", "services", "technology"])
    name = factory.LazyAttribute(lambda motion: motion.slug.title())


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Partner {n} Ltd")
    slug = factory.Sequence(lambda n: f"partner-{n}")
    country = "GB"
    time_zone = "Europe/London"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    partner = factory.SubFactory(PartnerFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.MEMBER


class InvitationFactory(factory.django.DjangoModelFactory):
    """An invitation; the raw token is kept on the instance as `.token` for tests."""

    class Meta:
        model = Invitation

    partner = factory.SubFactory(PartnerFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.test")
    role = Membership.Role.MEMBER
    token = factory.LazyFunction(lambda: secrets.token_urlsafe(32))
    token_hash = factory.LazyAttribute(lambda invitation: hash_token(invitation.token))
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        token = kwargs.pop("token", None)
        instance = super()._create(model_class, *args, **kwargs)
        instance.token = token
        return instance
