"""Tier evaluation: which tier of a ladder a partner's figures earn, and why. Pure: no database.

A partner's tier is the highest tier all of whose criteria pass, and, above the entry tier, whose
qualification gate (the 4C check) passes too. The result carries every criterion's value,
threshold, pass/fail and margin, and names the deciding criterion: the one that keeps the partner
from the tier above (the gate when that is what fails), or, at the top, the one closest to failing.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

GATE = "4C qualification gate"


@dataclass(frozen=True)
class CriterionSpec:
    key: str
    label: str
    threshold: Decimal
    unit: str = "count"
    window: str = ""


@dataclass(frozen=True)
class TierSpec:
    key: int
    name: str
    rank: int
    criteria: tuple[CriterionSpec, ...] = ()


@dataclass(frozen=True)
class CriterionResult:
    criterion: CriterionSpec
    value: Decimal | None

    @property
    def passed(self) -> bool:
        return self.value is not None and self.value >= self.criterion.threshold

    @property
    def margin(self) -> Decimal | None:
        """Return how far above (positive) or below (negative) the threshold the value is."""
        return None if self.value is None else self.value - self.criterion.threshold

    @property
    def shortfall(self) -> Decimal:
        """Return the missing share of the threshold: 0 when passed, 1 with no value at all."""
        threshold = self.criterion.threshold
        if self.passed:
            return Decimal(0)
        if self.value is None or threshold <= 0:
            return Decimal(1)
        return (threshold - self.value) / threshold

    @property
    def progress(self) -> int:
        """Return the value as a whole percentage of the threshold, capped at 100."""
        if self.passed:
            return 100
        if not self.value or self.criterion.threshold <= 0:
            return 0
        return min(99, int(100 * self.value / self.criterion.threshold))


@dataclass(frozen=True)
class TierResult:
    tier: TierSpec
    criteria: tuple[CriterionResult, ...]
    gate_required: bool
    gate_passed: bool | None

    @property
    def gate_ok(self) -> bool:
        return not self.gate_required or self.gate_passed is True

    @property
    def passed(self) -> bool:
        return self.gate_ok and all(result.passed for result in self.criteria)

    @property
    def failing(self) -> tuple[CriterionResult, ...]:
        return tuple(result for result in self.criteria if not result.passed)


@dataclass(frozen=True)
class Evaluation:
    tiers: tuple[TierResult, ...]  # by rank, entry first
    tier: TierSpec | None  # the tier earned, None when no tier qualifies
    gate_passed: bool | None  # None: never assessed
    deciding: str

    @property
    def landing(self) -> TierResult | None:
        return next((result for result in self.tiers if result.tier == self.tier), None)

    @property
    def next_tier(self) -> TierResult | None:
        """Return the result of the tier above the one earned (the entry tier when none is), or None at the top."""
        if self.tier is None:
            return self.tiers[0] if self.tiers else None
        above = [result for result in self.tiers if result.tier.rank > self.tier.rank]
        return above[0] if above else None

    @property
    def exit_candidate(self) -> bool:
        """Return True when no tier qualifies, or the 4C gate was assessed and failed (not our ideal partner)."""
        return self.tier is None or self.gate_passed is False

    def result_for(self, tier_key: int) -> TierResult | None:
        return next((result for result in self.tiers if result.tier.key == tier_key), None)


def evaluate(tiers: Sequence[TierSpec], values: Mapping[str, Decimal | None], gate_passed: bool | None) -> Evaluation:
    """Return the evaluation of a partner with criterion `values` (keyed by criterion key) on a ladder."""
    ordered = sorted(tiers, key=lambda tier: tier.rank)
    entry_rank = ordered[0].rank if ordered else 0
    results = tuple(
        TierResult(
            tier=tier,
            criteria=tuple(CriterionResult(criterion, values.get(criterion.key)) for criterion in tier.criteria),
            gate_required=tier.rank > entry_rank,
            gate_passed=gate_passed,
        )
        for tier in ordered
    )
    landing = next((result for result in reversed(results) if result.passed), None)
    return Evaluation(
        tiers=results,
        tier=landing.tier if landing else None,
        gate_passed=gate_passed,
        deciding=_deciding(results, landing),
    )


def _deciding(results: tuple[TierResult, ...], landing: TierResult | None) -> str:
    above = [result for result in results if landing is None or result.tier.rank > landing.tier.rank]
    if above:
        blocking = above[0]
        if not blocking.gate_ok and (blocking.gate_passed is False or not blocking.failing):
            return GATE
        worst = max(blocking.failing, key=lambda result: result.shortfall)
        return worst.criterion.label
    if landing is None or not landing.criteria:
        return ""
    closest = min(landing.criteria, key=_relative_margin)
    return closest.criterion.label


def _relative_margin(result: CriterionResult) -> Decimal:
    threshold = result.criterion.threshold
    margin = result.margin or Decimal(0)
    return margin / threshold if threshold > 0 else margin


def format_value(value: Decimal | None, unit: str) -> str:
    """Return a metric value as people read it: $250,000 · 80% · yes · 3."""
    if value is None:
        return "no data"
    if unit == "boolean":
        return "yes" if value else "no"
    sign, value = ("-", -value) if value < 0 else ("", value)
    number = sign + (f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}")
    if unit == "currency":
        return f"{sign}${number.lstrip('-')}"
    if unit == "percent":
        return f"{number}%"
    return number


def _criterion_words(result: CriterionResult) -> str:
    unit = result.criterion.unit
    sign = "≥" if result.passed else "<"
    if unit == "boolean":
        return f"{result.criterion.label}: {format_value(result.value, unit)}"
    threshold = format_value(result.criterion.threshold, unit)
    return f"{result.criterion.label} {format_value(result.value, unit)} {sign} {threshold}"


def _gate_words(result: TierResult) -> str:
    if not result.gate_required:
        return ""
    if result.gate_passed is None:
        return f"{GATE} not assessed"
    return f"{GATE} {'passed' if result.gate_passed else 'failed'}"


def explain(evaluation: Evaluation, current_rank: int | None) -> str:
    """Return in words why the evaluation moves a partner from the tier of `current_rank` (None: no tier)."""
    words = _explain_move(evaluation, current_rank)
    if evaluation.gate_passed is False:
        words += f" The {GATE} failed: a candidate for a graceful exit."
    return words


def _explain_move(evaluation: Evaluation, current_rank: int | None) -> str:
    landing = evaluation.landing
    current = next((result for result in evaluation.tiers if result.tier.rank == current_rank), None)
    if landing and (current is None or landing.tier.rank > current.tier.rank):
        parts = [_criterion_words(result) for result in landing.criteria] + [_gate_words(landing)]
        return f"Meets {landing.tier.name}: " + "; ".join(part for part in parts if part) + "."
    if landing and current and landing.tier.rank == current.tier.rank:
        return f"Keeps {landing.tier.name}; closest to the line: {evaluation.deciding or 'nothing'}."
    if current is not None:
        failing = [_criterion_words(result) for result in current.failing]
        if not current.gate_ok:
            failing.append(_gate_words(current))
        target = f"qualifies for {landing.tier.name}" if landing else "qualifies for no tier"
        return f"Below {current.tier.name}: " + "; ".join(failing) + f"; {target}."
    entry = evaluation.tiers[0] if evaluation.tiers else None
    if entry is None:
        return "The ladder has no tiers."
    failing = [_criterion_words(result) for result in entry.failing]
    return f"Not yet {entry.tier.name}: " + "; ".join(failing) + "."
