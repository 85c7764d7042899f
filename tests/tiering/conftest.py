import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from programs.models import Certification, Metric, MetricValue, PartnerMotion
from tests.factories import MotionFactory, support_plan, tier_with_plan
from tiering.models import Benefit, Criterion, Ladder, Policy, QualificationCheck, TierBenefit
from tiering.policies import activate_due_policies, publish_policy
from tiering.retier import execute_run, start_run

TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def today():
    return TODAY


@pytest.fixture
def resale(db, program_manager):
    """The resale ladder of seed 004 with one policy in force since last year.

    Registered: 1 sales certification · Selling: $50k ARR + 3 active sellers · Specialist: $250k ARR ·
    Strategic: $1M ARR. Essential support from Registered, Premier from Specialist.
    """
    motion = MotionFactory(slug="resale", name="Resale")
    ladder = Ladder.objects.create(motion=motion, name="Resale partners")
    metrics = {
        "arr": Metric.objects.create(key="arr_sourced", name="ARR sourced", unit="currency", aggregation="sum"),
        "sellers": Metric.objects.create(
            key="active_sellers", name="Active sellers", unit="count", aggregation="latest"
        ),
        "certs": Metric.objects.create(
            key="sales_certifications", name="Sales certifications", unit="count", aggregation="certifications"
        ),
    }
    essential = support_plan("Essential", rank=1)
    premier = support_plan("Premier", rank=3)
    tiers = {}
    for rank, name, plan in [
        (1, "Registered", essential),
        (2, "Selling", essential),
        (3, "Specialist", premier),
        (4, "Strategic", premier),
    ]:
        tiers[name] = tier_with_plan(ladder, name=name, rank=rank, plan=plan)
    exclusivity = Benefit.objects.create(
        name="Named-account exclusivity", kind="exclusivity", is_costly=True, offsetting_rule="90 days, then released."
    )
    TierBenefit.objects.create(tier=tiers["Strategic"], benefit=exclusivity)
    criteria = [
        ("Registered", "certs", 1),
        ("Selling", "arr", 50_000),
        ("Selling", "sellers", 3),
        ("Specialist", "arr", 250_000),
        ("Strategic", "arr", 1_000_000),
    ]
    policy = make_policy(
        ladder, 1, tiers, metrics, criteria, published_on=TODAY - dt.timedelta(days=800), by=program_manager
    )
    activate_due_policies(TODAY)
    return SimpleNamespace(
        motion=motion,
        ladder=ladder,
        tiers=tiers,
        metrics=metrics,
        policy=policy,
        plans={"essential": essential, "premier": premier},
    )


def make_policy(ladder, version, tiers, metrics, criteria, *, published_on, by, effective_in=90):
    policy = Policy.objects.create(
        ladder=ladder, version=version, effective_from=published_on + dt.timedelta(days=effective_in)
    )
    for tier, metric, threshold in criteria:
        Criterion.objects.create(policy=policy, tier=tiers[tier], metric=metrics[metric], threshold=Decimal(threshold))
    return publish_policy(policy, by=by, today=published_on)


@pytest.fixture
def record(resale):
    """Return a function that gives a partner figures: record(partner, arr=60_000, sellers=4, certs=1, on=day)."""

    def give(partner, *, on=TODAY - dt.timedelta(days=30), gate=True, **figures):
        PartnerMotion.objects.get_or_create(partner=partner, motion=resale.motion)
        for key, value in figures.items():
            metric = resale.metrics[key]
            if metric.from_certifications:
                for n in range(value):
                    Certification.objects.create(
                        partner=partner, metric=metric, name="Sales pro", holder=f"#{n}", earned_on=on
                    )
            else:
                MetricValue.objects.update_or_create(
                    partner=partner, metric=metric, recorded_on=on, defaults={"value": Decimal(value), "source": "test"}
                )
        if gate is not None and not QualificationCheck.objects.filter(partner=partner, motion=resale.motion).exists():
            QualificationCheck.objects.create(
                partner=partner,
                motion=resale.motion,
                assessed_on=on,
                customer_base=True,
                credibility=True,
                capability=gate,
                commitment=True,
            )
        return partner

    return give


def run_retier(as_of=TODAY, *, kind="apply", by=None, **kwargs):
    run = start_run(kind=kind, as_of=as_of, by=by, **kwargs)
    return execute_run(run)
