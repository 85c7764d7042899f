"""Reads for the tier pages: a partner's standing and progress per motion, and the public program.

Everything is evaluated with the same pure `evaluation` module and SQL criterion values the
re-tier uses, so what a partner reads is what the next run will compute.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Prefetch, Q

from programs.models import Partner

from . import evaluation
from .entitlements import Entitlement, entitlements_of
from .evaluation import format_value
from .ladder_rules import (
    LadderRules,
    ResultWording,
    criterion_spec,
    ladder_rules,
    measure_of,
    result_values,
    specs_from_snapshot,
)
from .measures import criterion_values
from .models import (
    Criterion,
    Ladder,
    MdfCriterion,
    Policy,
    QualificationCheck,
    RetierResult,
    RetierRun,
    Standing,
    Tier,
    TierBenefit,
)
from .schedule import next_retier_date


@dataclass
class MotionStanding:
    """One motion of a partner: the tier held, its benefits, progress, risks and the upcoming policy."""

    ladder: Ladder
    tiers: list[Tier]
    standing: Standing | None
    policy: Policy | None
    now: evaluation.Evaluation | None  # today's metric values under the policy in force
    next_run: dt.date
    at_next_run: evaluation.Evaluation | None  # today's metric values as the next re-tier will see them
    upcoming: Policy | None = None
    under_upcoming: evaluation.Evaluation | None = None
    gate: QualificationCheck | None = None
    entitlements: list[Entitlement] = field(default_factory=list)  # of the tier held (support plan…)

    @property
    def tier(self) -> Tier | None:
        # The ladder's own (prefetched) tier object, so its benefits cost no query.
        if self.standing is None:
            return None
        return next((tier for tier in self.tiers if tier.pk == self.standing.tier_id), self.standing.tier)

    @property
    def benefits(self) -> list[TierBenefit]:
        return list(self.tier.tier_benefits.all()) if self.tier else []

    @property
    def unlocks(self) -> list[TierBenefit]:
        """Return the benefits the next tier adds to those of the tier held."""
        above = self.next_tier
        tier = next((tier for tier in self.tiers if above and tier.pk == above.tier.key), None)
        if tier is None:
            return []
        held = {benefit.benefit_id for benefit in self.benefits}
        return [benefit for benefit in tier.tier_benefits.all() if benefit.benefit_id not in held]

    def _result(self, result: evaluation.Evaluation | None, tier: Tier | None) -> evaluation.TierResult | None:
        return result.result_for(tier.pk) if result and tier else None

    @property
    def keep(self) -> evaluation.TierResult | None:
        """Return today's result for the tier held: what it takes to keep it."""
        return self._result(self.now, self.tier)

    @property
    def next_tier(self) -> evaluation.TierResult | None:
        """Return today's result for the tier above the one held (the entry tier without one)."""
        if self.now is None:
            return None
        rank = self.tier.rank if self.tier else 0
        above = [result for result in self.now.tiers if result.tier.rank > rank]
        return above[0] if above else None

    @property
    def at_risk(self) -> bool:
        """Return True when metric values leaving the window would drop the tier held at the next re-tier."""
        if self.tier is None or self.at_next_run is None or (self.standing and self.standing.has_pending_drop):
            return False
        landing = self.at_next_run.tier
        return landing is None or landing.rank < self.tier.rank

    @property
    def risk(self) -> evaluation.TierResult | None:
        """Return the next re-tier's result for the tier held, when it would fail."""
        return self._result(self.at_next_run, self.tier) if self.at_risk else None

    @property
    def upcoming_landing(self) -> evaluation.TierSpec | None:
        return self.under_upcoming.tier if self.under_upcoming else None

    def side_by_side(self) -> list[tuple[Tier, evaluation.TierResult | None, evaluation.TierResult | None]]:
        """Return per tier the current and the upcoming policy's result, for comparison."""
        return [(tier, self._result(self.now, tier), self._result(self.under_upcoming, tier)) for tier in self.tiers]


@dataclass
class MdfEligibility:
    criteria: list[evaluation.CriterionResult] = field(default_factory=list)

    @property
    def eligible(self) -> bool:
        return bool(self.criteria) and all(result.passed for result in self.criteria)


def _ladders_with_tiers(ladders):
    tiers = Tier.objects.prefetch_related(Prefetch("tier_benefits", TierBenefit.objects.select_related("benefit")))
    return ladders.select_related("motion").prefetch_related(Prefetch("tiers", tiers.order_by("rank")))


def _announced_policies(ladders) -> dict[int, list[Policy]]:
    policies = (
        Policy.objects.announced()
        .filter(ladder__in=ladders)
        .order_by("effective_from")
        .prefetch_related(Prefetch("criteria", Criterion.objects.select_related("metric")))
    )
    by_ladder: dict[int, list[Policy]] = {}
    for policy in policies:
        by_ladder.setdefault(policy.ladder_id, []).append(policy)
    return by_ladder


def _in_force(policies: list[Policy], day: dt.date) -> Policy | None:
    started = [policy for policy in policies if policy.effective_from is not None and policy.effective_from <= day]
    return started[-1] if started else None


def _upcoming(policies: list[Policy], day: dt.date) -> Policy | None:
    return next((p for p in policies if p.effective_from is not None and p.effective_from > day), None)


def partner_tiers(partner: Partner, today: dt.date, *, entitlements: bool = True) -> list[MotionStanding]:
    """Return the partner's standing and progress in each motion it runs (without `entitlements`, no
    support plan per tier: the home page's summary shows the plan on a card of its own)."""
    ladders = list(_ladders_with_tiers(Ladder.objects.filter(motion__partner_motions__partner=partner)))
    standings = {
        standing.ladder_id: standing
        for standing in Standing.objects.filter(partner=partner).select_related("tier", "pending_tier")
    }
    policies = _announced_policies(ladders)
    gates = _latest_checks(partner, today)
    next_run = next_retier_date(today)
    entitled = (
        entitlements_of(standing.tier for standing in standings.values() if standing.tier) if entitlements else {}
    )
    plans = [(ladder, *_policies_of(policies.get(ladder.pk, []), today, next_run)) for ladder in ladders]
    rules_today = [
        ladder_rules(ladder, p, today, list(ladder.tiers.all())) for ladder, now, _, up in plans for p in (now, up) if p
    ]
    rules_next_run = [
        ladder_rules(ladder, later, next_run, list(ladder.tiers.all())) for ladder, _, later, _ in plans if later
    ]
    values_today = criterion_values(_measures(rules_today), today, partner_id=partner.pk).for_partner(partner.pk)
    values_next = criterion_values(_measures(rules_next_run), next_run, partner_id=partner.pk).for_partner(partner.pk)

    def evaluate(ladder, policy, day, values):
        return _evaluated(ladder, policy, day, values, gates.get(ladder.motion_id))

    return [
        MotionStanding(
            ladder=ladder,
            tiers=list(ladder.tiers.all()),
            standing=standings.get(ladder.pk),
            policy=now,
            now=evaluate(ladder, now, today, values_today),
            next_run=next_run,
            at_next_run=evaluate(ladder, later, next_run, values_next),
            upcoming=upcoming,
            under_upcoming=evaluate(ladder, upcoming, today, values_today),
            gate=gates.get(ladder.motion_id),
            entitlements=_held_entitlements(standings.get(ladder.pk), entitled),
        )
        for ladder, now, later, upcoming in plans
    ]


def _evaluated(
    ladder: Ladder, policy: Policy | None, day: dt.date, values: dict, gate: QualificationCheck | None
) -> evaluation.Evaluation | None:
    """Return what `values` earn on `ladder` under `policy` on `day` (None without a policy)."""
    if policy is None:
        return None
    rules = ladder_rules(ladder, policy, day, list(ladder.tiers.all()))
    return evaluation.evaluate(rules.specs, values, gate.passed if gate else None)


def _policies_of(
    policies: list[Policy], today: dt.date, next_run: dt.date
) -> tuple[Policy | None, Policy | None, Policy | None]:
    """Return the policy in force today, the one the next re-tier will use, and the next one announced."""
    return _in_force(policies, today), _in_force(policies, next_run), _upcoming(policies, today)


def _latest_checks(partner: Partner, today: dt.date) -> dict[int, QualificationCheck]:
    """Return the partner's latest 4C check per motion, as of `today`."""
    gates: dict[int, QualificationCheck] = {}
    for check in QualificationCheck.objects.filter(partner=partner, assessed_on__lte=today).order_by(
        "motion_id", "-assessed_on", "-pk"
    ):
        gates.setdefault(check.motion_id, check)
    return gates


def _held_entitlements(standing: Standing | None, entitled: dict[int, list[Entitlement]]) -> list[Entitlement]:
    return entitled.get(standing.tier_id, []) if standing and standing.tier_id else []


def _measures(rulebook: list[LadderRules]):
    return {measure for rules in rulebook for measure in rules.measures}


def mdf_eligibility(partner: Partner, today: dt.date) -> MdfEligibility:
    """Return the partner's standing against the public MDF criteria (open to every tier)."""
    criteria = list(MdfCriterion.objects.select_related("metric"))
    if not criteria:
        return MdfEligibility()
    values = criterion_values([measure_of(c) for c in criteria], today, partner_id=partner.pk)
    return MdfEligibility(
        [
            evaluation.CriterionResult(criterion_spec(c, today), values.value(measure_of(c).key, partner.pk))
            for c in criteria
        ]
    )


@dataclass
class LadderOverview:
    ladder: Ladder
    tiers: list[Tier]
    policy: Policy | None
    upcoming: Policy | None
    entitlements: dict[int, list[Entitlement]] = field(default_factory=dict)

    def rows(self) -> list[tuple[Tier, list[Criterion], list[Criterion], list[Entitlement]]]:
        """Return per tier its criteria now and under the upcoming policy, and its entitlements."""

        def of(policy, tier):
            return [c for c in policy.criteria.all() if c.tier_id == tier.pk] if policy else []

        return [
            (tier, of(self.policy, tier), of(self.upcoming, tier), self.entitlements.get(tier.pk, []))
            for tier in self.tiers
        ]


def program_overview(today: dt.date) -> list[LadderOverview]:
    """Return every ladder with its tiers, benefits, criteria in force and the upcoming criteria."""
    ladders = list(_ladders_with_tiers(Ladder.objects.all()))
    policies = _announced_policies(ladders)
    entitled = entitlements_of(tier for ladder in ladders for tier in ladder.tiers.all())
    return [
        LadderOverview(
            ladder=ladder,
            tiers=list(ladder.tiers.all()),
            policy=_in_force(policies.get(ladder.pk, []), today),
            upcoming=_upcoming(policies.get(ladder.pk, []), today),
            entitlements=entitled,
        )
        for ladder in ladders
    ]


# --- Re-tier run reports ---------------------------------------------------------------------------

NO_TIER = "none"


def inflation_trend(ladder: Ladder, *, until: RetierRun | None = None) -> list[tuple[dt.date, float, RetierRun]]:
    """Return the top-tier share after each applied re-tier of `ladder` (tier inflation over time)."""
    runs = RetierRun.objects.applied().filter(Q(ladder=ladder) | Q(ladder__isnull=True)).order_by("as_of", "pk")
    if until is not None:
        runs = runs.filter(created_at__lt=until.created_at)
    trend = []
    for run in runs:
        ladder_summary = run.summary.get(str(ladder.pk))
        if ladder_summary:
            share = ladder_summary.get("top_share_held", ladder_summary.get("top_share_after", 0.0))
            trend.append((run.as_of, share, run))
    return trend


@dataclass
class LadderReport:
    """One ladder of a run: tier counts before and after, the movement matrix, and tier inflation."""

    ladder_id: int
    name: str
    policy: str
    columns: list[tuple[str, str]]  # (tier key, tier name), the last one "no tier"
    before: list[int]
    after: list[int]
    held: list[int]
    matrix: list[tuple[str, list[int], int]]
    moves: list[tuple[str, str, int]]
    evaluated: int  # partners evaluated on this ladder
    top_share_before: float
    top_share_after: float
    top_share_held: float
    trend: list[tuple[dt.date, float, int, bool]]

    @property
    def top_tier(self) -> str:
        return self.columns[-2][1] if len(self.columns) > 1 else ""


def run_report(run: RetierRun) -> list[LadderReport]:
    """Return the what-if report of a finished run, per ladder."""
    ladders = {ladder.pk: ladder for ladder in Ladder.objects.filter(pk__in=[int(k) for k in run.summary])}
    return [
        _ladder_report(run, int(ladder_key), ladder_summary, ladders.get(int(ladder_key)))
        for ladder_key, ladder_summary in run.summary.items()
    ]


def _ladder_report(run: RetierRun, ladder_id: int, ladder_summary: dict, ladder: Ladder | None) -> LadderReport:
    columns = [(str(key), name) for key, name in ladder_summary["tiers"]] + [(NO_TIER, "No tier")]

    def row(counts):
        return [counts.get(key, 0) for key, _ in columns]

    trend = []
    if ladder is not None:
        trend = [(as_of, share, past.pk, False) for as_of, share, past in inflation_trend(ladder, until=run)]
    share = ladder_summary.get("top_share_held" if run.kind == "apply" else "top_share_after", 0.0)
    trend.append((run.as_of, share, run.pk, True))
    matrix = ladder_summary["matrix"]
    moves = ladder_summary["moves"]
    return LadderReport(
        ladder_id=ladder_id,
        name=ladder_summary["ladder"],
        policy=ladder_summary["policy"],
        columns=columns,
        before=row(ladder_summary["before"]),
        after=row(ladder_summary["after"]),
        held=row(ladder_summary["held"]),
        matrix=[(name, row(matrix[key]), sum(matrix[key].values())) for key, name in columns if key in matrix],
        moves=[(move, label, moves[move]) for move, label in RetierResult.Move.choices if moves.get(move)],
        evaluated=ladder_summary["total"],
        top_share_before=ladder_summary.get("top_share_before", 0.0),
        top_share_after=ladder_summary.get("top_share_after", 0.0),
        top_share_held=ladder_summary.get("top_share_held", 0.0),
        trend=trend,
    )


def run_summary_rows(run):
    """Yield the rows of a run's summary CSV: counts, the movement matrix, top-tier shares and trend."""
    for report in run_report(run):
        for (_, name), before, after, held in zip(
            report.columns, report.before, report.after, report.held, strict=True
        ):
            yield [report.name, "tier count", name, "", before, after, held]
        for from_name, counts, _total in report.matrix:
            for (_, to_name), n in zip(report.columns, counts, strict=True):
                if n:
                    yield [report.name, "movement", from_name, to_name, n, "", ""]
        yield [
            report.name,
            "top-tier share",
            report.top_tier,
            "",
            report.top_share_before,
            report.top_share_after,
            report.top_share_held,
        ]
        for as_of, share, run_id, current in report.trend:
            yield [
                report.name,
                "top-tier share trend",
                as_of.isoformat(),
                f"run {run_id}{' (this run)' if current else ''}",
                "",
                share,
                "",
            ]


SUMMARY_HEADER = ["ladder", "section", "tier / from", "to / run", "before", "after", "held after grandfathering"]
RESULTS_HEADER = [
    "partner", "ladder", "current tier", "computed tier", "move", "exit candidate", "4C gate", "deciding criterion",
    "reason", "criteria",
]  # fmt: skip


def run_criteria(run: RetierRun) -> dict[str, tuple[str, evaluation.CriterionSpec]]:
    """Return, per criterion key of the run's snapshot, its tier's name and the criterion as evaluated."""
    return {
        criterion.key: (tier.name, criterion)
        for snapshot in run.criteria.values()
        for tier in specs_from_snapshot(snapshot)
        for criterion in tier.criteria
    }


def result_attribution(
    run: RetierRun, result: RetierResult, criteria: dict | None = None
) -> list[tuple[str, evaluation.CriterionResult]] | None:
    """Return the tier name and outcome of each criterion, from the values `run` stored for `result`.

    In the order the run evaluated them (by tier rank); None when the run holds no snapshot of the
    ladder. Pass `run_criteria(run)` as `criteria` when attributing many results of one run.
    """
    snapshot = run.criteria.get(str(result.ladder_id))
    if not snapshot:
        return None
    criteria = criteria if criteria is not None else run_criteria(run)
    attribution = []
    for key, value in result_values(snapshot, result.values).items():
        tier_name, criterion = criteria[key]
        attribution.append((tier_name, evaluation.CriterionResult(criterion, value)))
    return attribution


def run_result_rows(run: RetierRun, move: str | None = None):
    """Yield one CSV row per partner × ladder of a run, with every criterion's value and threshold."""
    criteria, wording = run_criteria(run), ResultWording(run)
    results = RetierResult.objects.filter(run=run).select_related("partner", "ladder", "current_tier", "computed_tier")
    if move:
        results = results.filter(move=move)
    for result in results.order_by("ladder_id", "partner__name").iterator(chunk_size=2000):
        outcomes = [
            f"{tier_name} · {outcome.criterion.label}: {format_value(outcome.value, outcome.criterion.unit)} / "
            f"{format_value(outcome.criterion.threshold, outcome.criterion.unit)} "
            f"({'met' if outcome.passed else 'not met'})"
            for tier_name, outcome in result_attribution(run, result, criteria) or []
        ]
        gate = {True: "passed", False: "failed", None: "not assessed"}[result.gate_passed]
        yield [
            result.partner.name,
            result.ladder.name,
            result.current_tier.name if result.current_tier else "",
            result.computed_tier.name if result.computed_tier else "",
            result.get_move_display(),
            "yes" if result.exit_candidate else "no",
            gate,
            result.deciding,
            wording.reason(result),
            "; ".join(outcomes),
        ]
