"""Demo tiering: resale, services and technology ladders with their thresholds, a benefits catalogue with the
offsetting rules, a published upcoming policy, metric values that put partners on every tier, and
two applied re-tiers (last year's and a recent one) that leave one partner grandfathered, one exit
candidate and one at risk of dropping at the next annual re-tier.

Idempotent: catalogue records are found by their natural keys; metric values, checks and runs
are created only for a database that has none yet (dates are relative to the first seeding).
"""

import datetime as dt
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.utils import timezone

from programs.models import Certification, Metric, MetricValue, Motion, Partner, User

from .models import (
    Benefit,
    Criterion,
    Ladder,
    MdfCriterion,
    Policy,
    QualificationCheck,
    RetierRun,
    Tier,
    TierBenefit,
)
from .policies import activate_due_policies, publish_policy
from .retier import execute_run, start_run

U, A = Metric.Unit, Metric.Aggregation
# key: (name, unit, aggregation, description)
METRICS = {
    "contract_signed": ("Signed partner contract", U.BOOLEAN, A.BOOLEAN, "A current partner agreement."),
    "sales_certifications": (
        "Sales certifications",
        U.COUNT,
        A.CERTIFICATIONS,
        "People holding a sales certification.",
    ),
    "arr_sourced": ("ARR sourced", U.CURRENCY, A.SUM, "New annual recurring revenue the partner sourced."),
    "active_sellers": ("Active sellers", U.COUNT, A.LATEST, "Sellers who registered or closed a deal lately."),
    "vertical_certifications": ("Industry or vertical certifications", U.COUNT, A.CERTIFICATIONS, ""),
    "dedicated_practice": ("Dedicated practice", U.BOOLEAN, A.BOOLEAN, "A team that sells only our product."),
    "co_built_solution": ("Co-built solution", U.BOOLEAN, A.BOOLEAN, "A solution built together with us."),
    "trained_consultants": ("Trained consultants", U.COUNT, A.CERTIFICATIONS, "Consultants with current training."),
    "implementations": ("Completed implementations", U.COUNT, A.SUM, "Customer go-lives completed."),
    "csat": ("Customer satisfaction (CSAT)", U.PERCENT, A.AVERAGE, "Average post-implementation survey score."),
    "vertical_specialisations": ("Vertical specialisations", U.COUNT, A.CERTIFICATIONS, ""),
    "reference_customers": ("Reference customers", U.COUNT, A.LATEST, "Customers willing to be a reference."),
    "published_methodology": ("Published methodology", U.BOOLEAN, A.BOOLEAN, "An implementation method in public."),
    "integration_listed": ("Integration shipped and listed", U.BOOLEAN, A.BOOLEAN, "Live in the marketplace."),
    "mutual_customers": ("Mutual customers", U.COUNT, A.LATEST, "Customers using both products."),
    "alliance_manager": ("Dedicated alliance manager", U.BOOLEAN, A.BOOLEAN, ""),
    "co_sell_agreement": ("Signed co-sell agreement", U.BOOLEAN, A.BOOLEAN, ""),
    "joint_solution": ("Co-built offer with shared P&L", U.BOOLEAN, A.BOOLEAN, "A productised joint offer."),
    "marketing_plan": ("Joint marketing plan on file", U.BOOLEAN, A.BOOLEAN, "Required for MDF."),
    "leads_shared": ("Marketing-qualified leads shared", U.COUNT, A.SUM, "Leads the partner passed to us."),
}

K = Benefit.Kind
JBP = (
    "A Joint Business Plan for each partner with this benefit: one-year goals, named accounts and handoff rules "
    "with our direct team."
)
# name: (kind, costly, offsetting rule, description)
BENEFITS = {
    "Portal access": (K.ENABLEMENT, False, "", "Partner portal, price lists, support tickets."),
    "Deal registration": (K.DEAL_REGISTRATION, False, "", "Register deals and get protection on them."),
    "Marketing assets": (K.CO_MARKETING, False, "", "Co-brandable campaigns and collateral."),
    "Co-sell introductions": (K.CO_SELL, True, JBP, "Introductions to our account executives."),
    "Margin uplift": (
        K.MARGIN,
        True,
        "Margin follows deal complexity (size, vertical, deployment shape), not tier alone, so lower tiers "
        "cannot cherry-pick easy deals.",
        "Extra margin points on resold subscriptions.",
    ),
    "MDF eligibility": (
        K.MDF,
        True,
        "MDF criteria are published and any partner that meets them can apply, whatever its tier.",
        "Market Development Funds for demand generation.",
    ),
    "Dedicated partner manager": (
        K.PARTNER_MANAGER,
        True,
        "Only above the 4C qualification gate, and reviewed at every annual re-tier.",
        "A named partner manager with regular time.",
    ),
    "Executive sponsor": (K.EXECUTIVE_SPONSOR, True, JBP, "An executive on our side who owns the relationship."),
    "Joint business plan": (K.OTHER, False, "", "A written one-year plan with goals and named accounts."),
    "Roadmap input": (K.ROADMAP, False, "", "A seat in roadmap reviews."),
    "Documentation and community": (K.ENABLEMENT, False, "", "Implementation guides and the partner community."),
    "Small customer leads": (K.LEADS, False, "", "Leads from small customers in the partner's region."),
    "Named-account leads": (K.LEADS, False, "", "Leads from named accounts."),
    "Named-account exclusivity": (
        K.EXCLUSIVITY,
        True,
        "Exclusivity is time-boxed to 90 days and released automatically when no engagement is logged.",
        "Claim a named account; other partners cannot claim it while you hold it.",
    ),
    "Marketplace listing": (K.CO_MARKETING, False, "", "Your integration in our marketplace."),
    "Co-marketing and case study": (K.CO_MARKETING, False, "", "Joint campaigns and a case-study path."),
    "Joint AE engagement": (K.CO_SELL, True, JBP, "Our account executives work named opportunities with you."),
}

# motion: (ladder name, [(rank, tier, [(benefit, detail)], [(metric, threshold)])])
LADDERS = {
    "resale": (
        "Resale partners",
        [
            (1, "Registered", [("Portal access", ""), ("Deal registration", "")],
             [("contract_signed", 1), ("sales_certifications", 1)]),
            (2, "Selling",
             [("Marketing assets", ""), ("Co-sell introductions", ""), ("Margin uplift", "+5 margin points")],
             [("arr_sourced", 50_000), ("active_sellers", 3)]),
            (3, "Specialist", [("MDF eligibility", ""), ("Dedicated partner manager", "")],
             [("arr_sourced", 250_000), ("vertical_certifications", 1)]),
            (4, "Strategic",
             [("Executive sponsor", ""), ("Joint business plan", ""), ("Roadmap input", "")],
             [("arr_sourced", 1_000_000), ("dedicated_practice", 1), ("co_built_solution", 1)]),
        ],
    ),
    "services": (
        "Services partners",
        [
            (1, "Trained", [("Documentation and community", "")], [("trained_consultants", 2)]),
            (2, "Delivering", [("Small customer leads", "")], [("implementations", 3), ("csat", 80)]),
            (3, "Certified Practice", [("Named-account leads", ""), ("Co-sell introductions", "")],
             [("implementations", 10), ("vertical_specialisations", 1)]),
            (4, "Lead Implementer",
             [("Named-account exclusivity", "90 days per account"), ("Roadmap input", "co-roadmap")],
             [("implementations", 25), ("reference_customers", 1), ("published_methodology", 1)]),
        ],
    ),
    "technology": (
        "Technology partners",
        [
            (1, "Listed", [("Marketplace listing", "")], [("integration_listed", 1)]),
            (2, "Validated", [("Co-marketing and case study", "")],
             [("integration_listed", 1), ("mutual_customers", 10)]),
            (3, "Co-Sell", [("Joint AE engagement", "named opportunities")],
             [("mutual_customers", 10), ("alliance_manager", 1), ("co_sell_agreement", 1)]),
            (4, "Joint-Solution", [("Roadmap input", "joint roadmap"), ("Executive sponsor", "")],
             [("joint_solution", 1), ("co_sell_agreement", 1)]),
        ],
    ),
}  # fmt: skip

# The upcoming resale policy: thresholds rise with the next price list.
UPCOMING_RESALE = {"Selling": {"arr_sourced": 75_000}, "Specialist": {"arr_sourced": 300_000},
                   "Strategic": {"arr_sourced": 1_200_000}}  # fmt: skip
MDF = [("marketing_plan", 1, "A joint marketing plan for the quarter."), ("leads_shared", 10, "")]

# Metric values per partner: (metric, value, when) with `when` one of
#   "then": before last year's re-tier, "now": lately, "fading": counted now, gone by the next re-tier.
# Certifications: (metric, name, count, earned, expires) with dates "long ago" or a day offset.
PARTNER_METRICS: dict[str, dict[str, Any]] = {
    "northwind": {  # resale Selling → Specialist, at risk; services Trained → Delivering
        "values": [("contract_signed", 1, "both"), ("active_sellers", 5, "both"), ("arr_sourced", 120_000, "then"),
                   ("arr_sourced", 200_000, "fading"), ("arr_sourced", 80_000, "now"), ("implementations", 5, "now"),
                   ("csat", 88, "now"), ("marketing_plan", 1, "now"), ("leads_shared", 14, "now")],
        "certs": [("sales_certifications", "Certified Sales Professional", 2, None),
                  ("vertical_certifications", "Retail specialist", 1, None),
                  ("trained_consultants", "Implementation Consultant", 3, None)],
        "gate": {"resale": True, "services": True},
    },
    "contoso": {  # services Lead Implementer
        "values": [("implementations", 30, "both"), ("reference_customers", 2, "both"), ("csat", 92, "both"),
                   ("published_methodology", 1, "both"), ("marketing_plan", 1, "now"), ("leads_shared", 25, "now")],
        "certs": [("trained_consultants", "Implementation Consultant", 6, None),
                  ("vertical_specialisations", "Manufacturing", 2, None)],
        "gate": {"services": True},
    },
    "globex": {  # technology Validated
        "values": [("integration_listed", 1, "both"), ("mutual_customers", 14, "both")],
        "gate": {"technology": True},
    },
    "anatolia": {  # resale Strategic, services Trained
        "values": [("contract_signed", 1, "both"), ("active_sellers", 12, "both"), ("arr_sourced", 1_400_000, "both"),
                   ("dedicated_practice", 1, "both"), ("co_built_solution", 1, "both")],
        "certs": [("sales_certifications", "Certified Sales Professional", 4, None),
                  ("vertical_certifications", "Public sector", 2, None),
                  ("trained_consultants", "Implementation Consultant", 2, None)],
        "gate": {"resale": True, "services": True},
    },
    "sakura": {  # technology Listed, resale Registered
        "values": [("integration_listed", 1, "both"), ("mutual_customers", 4, "now"), ("contract_signed", 1, "both"),
                   ("arr_sourced", 10_000, "now"), ("active_sellers", 1, "now")],
        "certs": [("sales_certifications", "Certified Sales Professional", 1, None)],
        "gate": {"technology": True, "resale": True},
    },
    "pampas": {  # resale Selling
        "values": [("contract_signed", 1, "both"), ("arr_sourced", 70_000, "both"), ("active_sellers", 3, "both")],
        "certs": [("sales_certifications", "Certified Sales Professional", 1, None)],
        "gate": {"resale": True},
    },
    "maple": {  # services Certified Practice
        "values": [("implementations", 12, "both"), ("csat", 85, "both")],
        "certs": [("trained_consultants", "Implementation Consultant", 4, None),
                  ("vertical_specialisations", "Healthcare", 1, None)],
        "gate": {"services": True},
    },
    "fjord": {  # technology Co-Sell
        "values": [("integration_listed", 1, "both"), ("mutual_customers", 35, "both"), ("alliance_manager", 1, "both"),
                   ("co_sell_agreement", 1, "both")],
        "gate": {"technology": True},
    },
    "kilimanjaro": {  # technology Joint-Solution
        "values": [("integration_listed", 1, "both"), ("mutual_customers", 80, "both"), ("alliance_manager", 1, "both"),
                   ("co_sell_agreement", 1, "both"), ("joint_solution", 1, "both"), ("marketing_plan", 1, "now"),
                   ("leads_shared", 40, "now")],
        "gate": {"technology": True},
    },
    "baltic": {  # resale Specialist last year; Selling now: grandfathered
        "values": [("contract_signed", 1, "both"), ("active_sellers", 4, "both"), ("arr_sourced", 300_000, "then"),
                   ("arr_sourced", 60_000, "now")],
        "certs": [("sales_certifications", "Certified Sales Professional", 1, None),
                  ("vertical_certifications", "Logistics", 1, -100)],
        "gate": {"resale": True},
    },
    "outback": {  # resale Registered last year; no tier now and failed the 4C check: exit candidate
        "values": [("contract_signed", 1, "both")],
        "certs": [("sales_certifications", "Certified Sales Professional", 1, -200)],
        "gate": {"resale": False},
    },
}  # fmt: skip


def _catalogue() -> dict:
    metrics = {}
    for key, (name, unit, aggregation, description) in METRICS.items():
        metrics[key], _ = Metric.objects.update_or_create(
            key=key, defaults={"name": name, "unit": unit, "aggregation": aggregation, "description": description}
        )
    benefits = {}
    for name, (kind, costly, rule, description) in BENEFITS.items():
        benefits[name], _ = Benefit.objects.update_or_create(
            name=name,
            defaults={"kind": kind, "is_costly": costly, "offsetting_rule": rule, "description": description},
        )
    for key, threshold, note in MDF:
        MdfCriterion.objects.update_or_create(metric=metrics[key], defaults={"threshold": threshold, "note": note})
    return {"metrics": metrics, "benefits": benefits}


def _ladders(catalogue: dict, manager: User, today: dt.date) -> dict:
    ladders = {}
    for motion_slug, (ladder_name, tiers) in LADDERS.items():
        ladder, _ = Ladder.objects.update_or_create(
            motion=Motion.objects.get(slug=motion_slug), defaults={"name": ladder_name}
        )
        by_name = {}
        for rank, name, benefits, _criteria in tiers:
            tier, _ = Tier.objects.update_or_create(ladder=ladder, rank=rank, defaults={"name": name})
            for benefit, detail in benefits:
                TierBenefit.objects.update_or_create(
                    tier=tier, benefit=catalogue["benefits"][benefit], defaults={"detail": detail}
                )
            by_name[name] = tier
        if not ladder.policies.exists():
            _policy(ladder, 1, tiers, by_name, catalogue, manager, published_on=today - relativedelta(years=2))
            if motion_slug == "resale":
                _policy(ladder, 2, tiers, by_name, catalogue, manager, published_on=today - dt.timedelta(days=10),
                        raise_to=UPCOMING_RESALE, summary="ARR thresholds rise with the new price list.")  # fmt: skip
        activate_due_policies(today)
        ladders[motion_slug] = ladder
    return ladders


def _policy(ladder, version, tiers, by_name, catalogue, manager, *, published_on, raise_to=None, summary=""):
    policy = Policy.objects.create(
        ladder=ladder,
        version=version,
        summary=summary or "Thresholds of the partner tiering guide.",
        effective_from=published_on + dt.timedelta(days=90),
    )
    for _rank, name, _benefits, criteria in tiers:
        for key, threshold in criteria:
            threshold = (raise_to or {}).get(name, {}).get(key, threshold)
            Criterion.objects.create(
                policy=policy, tier=by_name[name], metric=catalogue["metrics"][key], threshold=Decimal(threshold)
            )
    publish_policy(policy, by=manager, today=published_on)


def _partner_metrics(catalogue: dict, manager: User, today: dt.date, last_run: dt.date) -> int:
    metrics = catalogue["metrics"]
    days = {
        "then": [today - dt.timedelta(days=425)],
        "now": [today - dt.timedelta(days=35)],
        "both": [today - dt.timedelta(days=425), today - dt.timedelta(days=35)],
        # Inside the last re-tier's window and today's, outside the next re-tier's.
        "fading": [max(today - relativedelta(years=1) + dt.timedelta(days=10), last_run - relativedelta(years=1))],
    }
    motions = {motion.slug: motion for motion in Motion.objects.all()}
    seeded = 0
    for slug, spec in PARTNER_METRICS.items():
        partner = Partner.objects.get(slug=slug)
        if partner.metric_values.exists() or partner.certifications.exists():
            continue
        values = [
            MetricValue(partner=partner, metric=metrics[key], recorded_on=day, value=Decimal(value), source="Demo CRM")
            for key, value, when in spec.get("values", [])
            for day in days[when]
        ]
        MetricValue.objects.bulk_create(values)
        _certifications(partner, spec.get("certs", []), metrics, today)
        for motion_slug, passed in spec.get("gate", {}).items():
            _qualification_check(partner, motions[motion_slug], passed=passed, by=manager, today=today)
        seeded += 1
    return seeded


def _certifications(partner: Partner, certs: list, metrics: dict, today: dt.date) -> None:
    for key, name, count, expires in certs:
        for number in range(count):
            Certification.objects.create(
                partner=partner,
                metric=metrics[key],
                name=name,
                holder=f"{partner.name} staff #{number + 1}",
                earned_on=today - dt.timedelta(days=800),
                expires_on=today + dt.timedelta(days=expires) if expires is not None else None,
            )


def _qualification_check(partner: Partner, motion: Motion, *, passed: bool, by: User, today: dt.date) -> None:
    QualificationCheck.objects.create(
        partner=partner,
        motion=motion,
        assessed_on=today - dt.timedelta(days=60 if not passed else 500),
        customer_base=True,
        credibility=True,
        capability=passed,
        commitment=passed,
        notes="" if passed else "No active sellers left; commercial terms no longer line up with ours.",
        assessed_by=by,
    )


@transaction.atomic
def seed() -> dict:
    """Create or refresh the demo ladders, policies, benefits and metrics; run the demo re-tiers once."""
    today = timezone.localdate()
    manager = User.objects.get(email="manager@demo.test")
    catalogue = _catalogue()
    ladders = _ladders(catalogue, manager, today)
    last_run = today - dt.timedelta(days=30)
    seeded = _partner_metrics(catalogue, manager, today, last_run)
    runs = 0
    if not RetierRun.objects.exists():
        for as_of in (today - dt.timedelta(days=395), last_run):
            run = start_run(kind=RetierRun.Kind.APPLY, as_of=as_of, by=manager)
            execute_run(run)
            runs += 1
    return {"ladders": len(ladders), "partners with metrics": seeded, "re-tier runs": runs}
