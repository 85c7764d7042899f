"""Tier evaluation: which tier of a ladder a partner's metric values earn, and why. Pure: no database.

A partner's tier is the highest tier all of whose criteria pass, and, above the entry tier, whose
qualification gate (the 4C check) passes too. The result carries every criterion's value,
threshold, pass/fail and margin, and names the deciding criterion: the one that keeps the partner
from the tier above (the gate when that is what fails), or, at the top, the one closest to failing.
"""

from collections.abc import Callable, Mapping, Sequence
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


def passes(value: Decimal | None, threshold: Decimal) -> bool:
    return value is not None and value >= threshold


def shortfall(value: Decimal | None, threshold: Decimal) -> Decimal:
    """Return the missing share of `threshold`: 0 when passed, 1 with no value at all."""
    if passes(value, threshold):
        return Decimal(0)
    if value is None or threshold <= 0:
        return Decimal(1)
    return (threshold - value) / threshold


def relative_margin(value: Decimal | None, threshold: Decimal) -> Decimal:
    """Return how far above the threshold a value is, as a share of it (no value: 0)."""
    margin = Decimal(0) if value is None else value - threshold
    return margin / threshold if threshold > 0 else margin


@dataclass(frozen=True)
class CriterionResult:
    criterion: CriterionSpec
    value: Decimal | None

    @property
    def passed(self) -> bool:
        return passes(self.value, self.criterion.threshold)

    @property
    def margin(self) -> Decimal | None:
        """Return how far above (positive) or below (negative) the threshold the value is."""
        return None if self.value is None else self.value - self.criterion.threshold

    @property
    def shortfall(self) -> Decimal:
        """Return the missing share of the threshold: 0 when passed, 1 with no value at all."""
        return shortfall(self.value, self.criterion.threshold)

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
        return is_exit_candidate(self.tier, self.gate_passed)

    def result_for(self, tier_key: int) -> TierResult | None:
        return next((result for result in self.tiers if result.tier.key == tier_key), None)


def _tier_result(
    tier: TierSpec, values: Mapping[str, Decimal | None], gate_passed: bool | None, entry_rank: int
) -> TierResult:
    return TierResult(
        tier=tier,
        criteria=tuple(CriterionResult(criterion, values.get(criterion.key)) for criterion in tier.criteria),
        gate_required=tier.rank > entry_rank,
        gate_passed=gate_passed,
    )


def is_exit_candidate(tier: TierSpec | None, gate_passed: bool | None) -> bool:
    """Return True when no tier qualifies, or the 4C gate was assessed and failed (not our ideal partner)."""
    return tier is None or gate_passed is False


def evaluate(tiers: Sequence[TierSpec], values: Mapping[str, Decimal | None], gate_passed: bool | None) -> Evaluation:
    """Return the evaluation of a partner with criterion `values` (keyed by criterion key) on a ladder."""
    ordered = sorted(tiers, key=lambda tier: tier.rank)
    entry_rank = ordered[0].rank if ordered else 0
    results = tuple(_tier_result(tier, values, gate_passed, entry_rank) for tier in ordered)
    landing = next((result for result in reversed(results) if result.passed), None)
    return Evaluation(
        tiers=results,
        tier=landing.tier if landing else None,
        gate_passed=gate_passed,
        deciding=_deciding(results, landing),
    )


class CompiledLadder:
    """A ladder prepared for evaluating many partners in a row: only the tier and the deciding criterion.

    `decide` answers exactly what `evaluate` answers for the tier and the deciding criterion (a
    property test holds it to that) without building a result per criterion; the re-tier stores
    the values, and the full attribution is rebuilt from them with `evaluate` when someone reads it.
    """

    def __init__(self, tiers: Sequence[TierSpec]) -> None:
        self.tiers = tuple(sorted(tiers, key=lambda tier: tier.rank))
        self._entry_rank = entry_rank = self.tiers[0].rank if self.tiers else 0
        self._by_rank = {tier.rank: tier for tier in self.tiers}
        self._checks = [
            (tier, tier.rank > entry_rank, tuple((c.key, c.threshold, c.label) for c in tier.criteria))
            for tier in self.tiers
        ]

    def decide(self, values: Mapping[str, Decimal | None], gate_passed: bool | None) -> tuple[TierSpec | None, str]:
        """Return the tier earned (None: no tier) and the deciding criterion, as `evaluate` would."""
        landing = None
        for index in range(len(self._checks) - 1, -1, -1):
            _, gated, criteria = self._checks[index]
            if gated and gate_passed is not True:
                continue
            for key, threshold, _ in criteria:
                value = values.get(key)
                if value is None or value < threshold:
                    break
            else:
                landing = index
                break
        earned = None if landing is None else self.tiers[landing]
        blocking = 0 if landing is None else landing + 1
        if blocking < len(self._checks):
            _, gated, criteria = self._checks[blocking]
            worst, worst_label = None, ""
            for key, threshold, label in criteria:  # the first of equal shortfalls wins, as in `evaluate`
                value = values.get(key)
                if not passes(value, threshold):
                    missing = shortfall(value, threshold)
                    if worst is None or missing > worst:
                        worst, worst_label = missing, label
            if not (not gated or gate_passed is True) and (gate_passed is False or worst is None):
                return earned, GATE
            return earned, worst_label
        if landing is None:  # a ladder without tiers: nothing earned, nothing decides (as in `evaluate`)
            return earned, ""
        closest, closest_label = None, ""
        for key, threshold, label in self._checks[landing][2]:
            share = relative_margin(values.get(key), threshold)
            if closest is None or share < closest:
                closest, closest_label = share, label
        return earned, closest_label

    def explain(
        self,
        values: Mapping[str, Decimal | None],
        gate_passed: bool | None,
        earned: TierSpec | None,
        deciding: str,
        current_rank: int | None,
    ) -> str:
        """Return what `explain` returns for this decision, building results only for the tiers it names."""

        def result_of(rank: int) -> TierResult | None:
            tier = self._by_rank.get(rank)
            return _tier_result(tier, values, gate_passed, self._entry_rank) if tier else None

        return _explain(result_of, self.tiers, earned, deciding, gate_passed, current_rank)


def keeps_words(tier_name: str, deciding: str) -> str:
    return f"Keeps {tier_name}; closest to the line: {deciding or 'nothing'}."


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
    return relative_margin(result.value, result.criterion.threshold)


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


# The result for the tier of a rank, or None when the ladder has no tier of that rank.
ResultOf = Callable[[int], TierResult | None]


def explain(evaluation: Evaluation, current_rank: int | None) -> str:
    """Return in words why the evaluation moves a partner from the tier of `current_rank` (None: no tier)."""
    by_rank = {result.tier.rank: result for result in evaluation.tiers}
    tiers = [result.tier for result in evaluation.tiers]
    return _explain(by_rank.get, tiers, evaluation.tier, evaluation.deciding, evaluation.gate_passed, current_rank)


def _explain(
    result_of: ResultOf,
    tiers: Sequence[TierSpec],
    earned: TierSpec | None,
    deciding: str,
    gate_passed: bool | None,
    current_rank: int | None,
) -> str:
    words = _explain_move(result_of, tiers, earned, deciding, current_rank)
    if gate_passed is False:
        words += f" The {GATE} failed: a candidate for a graceful exit."
    return words


def _explain_move(
    result_of: ResultOf, tiers: Sequence[TierSpec], earned: TierSpec | None, deciding: str, current_rank: int | None
) -> str:
    if earned is not None and earned.rank == current_rank:
        return keeps_words(earned.name, deciding)
    landing = result_of(earned.rank) if earned else None
    current = result_of(current_rank) if current_rank is not None else None
    if landing and (current is None or landing.tier.rank > current.tier.rank):
        parts = [_criterion_words(result) for result in landing.criteria] + [_gate_words(landing)]
        return f"Meets {landing.tier.name}: " + "; ".join(part for part in parts if part) + "."
    if current is not None:
        failing = [_criterion_words(result) for result in current.failing]
        if not current.gate_ok:
            failing.append(_gate_words(current))
        target = f"qualifies for {landing.tier.name}" if landing else "qualifies for no tier"
        return f"Below {current.tier.name}: " + "; ".join(failing) + f"; {target}."
    if not tiers:
        return "The ladder has no tiers."
    entry = result_of(tiers[0].rank)
    assert entry is not None  # the entry tier is one of the ladder's own
    failing = [_criterion_words(result) for result in entry.failing]
    return f"Not yet {entry.tier.name}: " + "; ".join(failing) + "."
