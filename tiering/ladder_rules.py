"""The rules a ladder is evaluated by: its tiers with a policy's criteria on a day, as pure specs.

The tier pages, the MDF check and the re-tier all read criteria through here, so what a partner
reads is what the next run computes. A run stores a snapshot of these rules, and its results are
explained from that snapshot later, exactly as they were evaluated.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from programs.models import Metric

from . import evaluation
from .measures import Measure
from .models import Criterion, Ladder, MdfCriterion, Policy, RetierResult, RetierRun, Tier, window_bounds


@dataclass(frozen=True)
class LadderRules:
    """A ladder's tiers with the criteria of one policy, as specs to evaluate and measures to read."""

    ladder: Ladder
    policy: Policy | None
    tiers: tuple[Tier, ...]
    specs: tuple[evaluation.TierSpec, ...]
    measures: tuple[Measure, ...]

    @property
    def rank_of(self) -> dict[int, int]:
        return {tier.pk: tier.rank for tier in self.tiers}

    def snapshot(self) -> dict[str, Any]:
        """Return the rules as JSON a run stores: criterion keys in value order, tiers with their criteria."""
        return {
            "ladder": self.ladder.name,
            "policy": str(self.policy) if self.policy else "",
            "keys": [measure.key for measure in self.measures],
            "tiers": [
                {
                    "key": spec.key,
                    "name": spec.name,
                    "rank": spec.rank,
                    "criteria": [
                        {
                            "key": c.key,
                            "label": c.label,
                            "threshold": str(c.threshold),
                            "unit": c.unit,
                            "window": c.window,
                        }
                        for c in spec.criteria
                    ],
                }
                for spec in self.specs
            ],
        }


def ladder_rules(
    ladder: Ladder, policy: Policy | None, as_of: dt.date, tiers: Iterable[Tier] | None = None
) -> LadderRules:
    """Return `ladder`'s tiers with `policy`'s criteria, evaluated on `as_of`."""
    ladder_tiers = tuple(tiers if tiers is not None else ladder.tiers.order_by("rank"))
    criteria = _criteria_of(policy) if policy else []
    by_tier: dict[int, list[Criterion]] = {}
    for criterion in criteria:
        by_tier.setdefault(criterion.tier_id, []).append(criterion)
    specs = tuple(
        evaluation.TierSpec(
            key=tier.pk,
            name=tier.name,
            rank=tier.rank,
            criteria=tuple(criterion_spec(c, as_of) for c in by_tier.get(tier.pk, [])),
        )
        for tier in ladder_tiers
    )
    return LadderRules(ladder, policy, ladder_tiers, specs, tuple(measure_of(c) for c in criteria))


def _criteria_of(policy: Policy) -> list[Criterion]:
    if "criteria" in getattr(policy, "_prefetched_objects_cache", {}):
        return list(policy.criteria.all())
    return list(policy.criteria.select_related("metric"))


def criterion_spec(criterion: Criterion | MdfCriterion, as_of: dt.date) -> evaluation.CriterionSpec:
    """Return the pure spec of a Criterion or MdfCriterion (metric preloaded) on `as_of`."""
    metric = criterion.metric
    return evaluation.CriterionSpec(
        key=_criterion_key(criterion),
        label=metric.name,
        threshold=criterion.threshold,
        unit=metric.unit,
        window=window_label(criterion.window, metric.aggregation, as_of),
    )


def measure_of(criterion: Criterion | MdfCriterion) -> Measure:
    """Return what to read from the metric values for a Criterion or MdfCriterion (metric preloaded)."""
    return Measure(
        key=_criterion_key(criterion),
        metric_id=criterion.metric_id,
        aggregation=criterion.metric.aggregation,
        window=criterion.window,
    )


def _criterion_key(criterion: Criterion | MdfCriterion) -> str:
    return f"{criterion._meta.model_name}:{criterion.pk}"


def window_label(criterion_window: str, aggregation: str, as_of: dt.date) -> str:
    """Return the measurement window in words: certifications count on the day, other metrics over a period."""
    if aggregation == Metric.Aggregation.CERTIFICATIONS:
        return f"valid on {as_of:%d %b %Y}"
    start, end = window_bounds(criterion_window, as_of)
    return f"{start:%d %b %Y} – {end:%d %b %Y}"


def specs_from_snapshot(snapshot: dict[str, Any]) -> list[evaluation.TierSpec]:
    """Return the tier specs a run stored, to explain its results exactly as it evaluated them."""
    return [
        evaluation.TierSpec(
            key=tier["key"],
            name=tier["name"],
            rank=tier["rank"],
            criteria=tuple(
                evaluation.CriterionSpec(
                    key=c["key"],
                    label=c["label"],
                    threshold=Decimal(c["threshold"]),
                    unit=c["unit"],
                    window=c["window"],
                )
                for c in tier["criteria"]
            ),
        )
        for tier in snapshot["tiers"]
    ]


def result_values(snapshot: dict[str, Any], stored: list[str | None]) -> dict[str, Decimal | None]:
    """Return a result's criterion values by criterion key, as the run evaluated them."""
    return {key: None if raw is None else Decimal(raw) for key, raw in zip(snapshot["keys"], stored, strict=True)}


class ResultWording:
    """A run's results in words, from what the run stored: its criteria snapshot and each result's values.

    The re-tier stores the decision (tier, deciding criterion, values, 4C gate) and words it only
    when someone reads it: wording every one of 300,000 results was half of a run's time.
    """

    def __init__(self, run: RetierRun) -> None:
        self._ladders: dict[int, tuple[dict[str, Any], evaluation.CompiledLadder, dict[int, evaluation.TierSpec]]] = {}
        for key, snapshot in run.criteria.items():
            tiers = specs_from_snapshot(snapshot)
            self._ladders[int(key)] = (snapshot, evaluation.CompiledLadder(tiers), {tier.key: tier for tier in tiers})

    def reason(self, result: RetierResult) -> str:
        """Return the result's reason, worded as the run evaluated it ("" without the ladder's snapshot)."""
        found = self._ladders.get(result.ladder_id)
        if found is None:
            return ""
        snapshot, ladder, tiers = found
        current = tiers.get(result.current_tier_id) if result.current_tier_id else None
        return ladder.explain(
            result_values(snapshot, result.values),
            result.gate_passed,
            tiers.get(result.computed_tier_id) if result.computed_tier_id else None,
            result.deciding,
            current.rank if current else None,
        )


def result_reason(result: RetierResult) -> str:
    """Return one result's reason in words (reads its run)."""
    return ResultWording(result.run).reason(result)
