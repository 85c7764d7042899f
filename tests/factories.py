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


def support_plan(name="Premier", *, always_open=True, zone="UTC", windows=(), targets=None, rank=3, **fields):
    """Return a support plan with targets per severity (minutes), on a 24/7 calendar by default."""
    from support.models import BusinessCalendar, CalendarWindow, SeverityTarget, SupportPlan

    calendar = BusinessCalendar.objects.create(name=f"{name} hours", time_zone=zone, always_open=always_open)
    for weekday, start, end in windows:
        CalendarWindow.objects.create(calendar=calendar, weekday=weekday, start=start, end=end)
    plan = SupportPlan.objects.create(name=name, rank=rank, calendar=calendar, channels=["portal", "email"], **fields)
    targets = targets or {"P1": (15, 240), "P2": (60, 480), "P3": (240, 1440), "P4": (1440, 4320)}
    for severity, (first, resolution) in targets.items():
        SeverityTarget.objects.create(
            plan=plan, severity=severity, first_response_minutes=first, resolution_minutes=resolution
        )
    return plan


def tier_with_plan(ladder, *, name, rank, plan):
    """Return a new tier of `ladder` that entitles its partners to the support plan `plan`."""
    from support.models import TierSupportPlan
    from tiering.models import Tier

    tier = Tier.objects.create(ladder=ladder, name=name, rank=rank)
    TierSupportPlan.objects.create(tier=tier, plan=plan)
    return tier


def entitle(partner, plan):
    """Give `partner` a tier whose support plan is `plan`: a standing on the resale ladder, made if missing."""
    from django.db.models import Max

    from programs.models import PartnerMotion
    from tiering.models import Ladder, Standing, Tier

    motion = MotionFactory(slug="resale")
    PartnerMotion.objects.get_or_create(partner=partner, motion=motion)
    ladder, _ = Ladder.objects.get_or_create(motion=motion, defaults={"name": "Resale partners"})
    tier = Tier.objects.filter(ladder=ladder, support_plan_entitlement__plan=plan).first()
    if tier is None:
        rank = (ladder.tiers.aggregate(top=Max("rank"))["top"] or 0) + 1
        tier = tier_with_plan(ladder, name=f"{plan.name} tier", rank=rank, plan=plan)
    Standing.objects.update_or_create(
        partner=partner, ladder=ladder, defaults={"tier": tier, "since": timezone.localdate()}
    )
    return tier


TICKET_INTAKE = {
    "customer_name": "Acme Retail GmbH",
    "environment": "production",
    "environment_details": "EU region",
    "steps_to_reproduce": "Add to cart, pay, see HTTP 500.",
    "business_impact": "No orders for this customer.",
    "category": "defect",
}


def replace_tickets_with(field_rows, *, partner, submitter, plan, received_at):
    """Delete every ticket and save one P2 ticket per dict of field values, at once; return them saved.

    For generated examples (hypothesis) that each start from no tickets in one test transaction.
    """
    from support.models import Ticket

    Ticket.objects.all().delete()
    defaults = {"partner": partner, "submitter": submitter, "plan": plan, "severity": "P2", "received_at": received_at}
    return Ticket.objects.bulk_create(
        Ticket(**{**defaults, "title": f"Ticket {n}", **TICKET_INTAKE, **fields}) for n, fields in enumerate(field_rows)
    )


def file_ticket(partner, submitter, *, title="Checkout returning 500", severity="P2", at=None, **fields):
    """Return a ticket filed through the real service, as a partner would."""
    from support.tickets import lifecycle

    return lifecycle.open_ticket(
        partner, submitter=submitter, title=title, severity=severity, at=at, **{**TICKET_INTAKE, **fields}
    )


def copy_ticket(template, count: int) -> None:
    """Insert `count` copies of a real ticket in one statement, for tests that need volume."""
    from support.models import Ticket

    fields = {f.attname: getattr(template, f.attname) for f in Ticket._meta.concrete_fields if f.attname != "id"}
    Ticket.objects.bulk_create([Ticket(**fields) for _ in range(count)])


def article(title, *, body="", audience="partners", published=True, summary="", category="Payments"):
    """Return a knowledge base article (its search index is kept by the database)."""
    from django.utils.text import slugify

    from support.models import Article, ArticleCategory

    group, _ = ArticleCategory.objects.get_or_create(name=category, defaults={"slug": slugify(category)})
    return Article.objects.create(
        title=title,
        slug=slugify(title)[:200] or "article",
        category=group,
        audience=audience,
        summary=summary,
        body=body or f"About {title}.",
        published=published,
    )
