"""Tier evaluation against a brute-force oracle: the highest tier whose every criterion and gate pass."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tiering.evaluation import GATE, CompiledLadder, CriterionSpec, TierSpec, evaluate, explain, format_value

values = st.one_of(st.none(), st.decimals(min_value=0, max_value=2000, places=0))
thresholds = st.decimals(min_value=0, max_value=1500, places=0)
gates = st.sampled_from([True, False, None])


@st.composite
def ladders(draw):
    """A ladder of 1–5 tiers with 0–4 criteria each, over up to 6 metrics, plus a partner's values."""
    metric_count = draw(st.integers(1, 6))
    tiers = []
    for rank in range(1, draw(st.integers(1, 5)) + 1):
        keys = draw(st.lists(st.integers(0, metric_count - 1), max_size=4, unique=True))
        criteria = tuple(
            CriterionSpec(key=f"t{rank}m{k}", label=f"metric {k} for tier {rank}", threshold=draw(thresholds))
            for k in keys
        )
        tiers.append(TierSpec(key=rank * 10, name=f"Tier {rank}", rank=rank, criteria=criteria))
    partner = {c.key: draw(values) for tier in tiers for c in tier.criteria}
    shuffled = draw(st.permutations(tiers))
    return shuffled, partner


def oracle(tiers, partner, gate):
    """Return the rank of the highest tier all of whose criteria pass, with the gate above the entry tier."""
    entry = min(tier.rank for tier in tiers)
    best = None
    for tier in tiers:
        criteria_pass = all(partner.get(c.key) is not None and partner[c.key] >= c.threshold for c in tier.criteria)
        gate_pass = tier.rank == entry or gate is True
        if criteria_pass and gate_pass and (best is None or tier.rank > best):
            best = tier.rank
    return best


@settings(max_examples=1500, deadline=None)
@given(ladders(), gates)
def test_the_tier_is_the_highest_whose_criteria_and_gate_all_pass(ladder, gate):
    tiers, partner = ladder
    result = evaluate(tiers, partner, gate)
    assert (result.tier.rank if result.tier else None) == oracle(tiers, partner, gate)


@settings(max_examples=800, deadline=None)
@given(ladders(), gates)
def test_every_criterion_carries_its_value_threshold_verdict_and_margin(ladder, gate):
    tiers, partner = ladder
    result = evaluate(tiers, partner, gate)
    assert [t.tier.rank for t in result.tiers] == sorted(t.rank for t in tiers)
    for tier_result in result.tiers:
        for r in tier_result.criteria:
            value = partner.get(r.criterion.key)
            assert r.value == value
            assert r.passed == (value is not None and value >= r.criterion.threshold)
            assert r.margin == (None if value is None else value - r.criterion.threshold)
            assert 0 <= r.progress <= 100 and (r.progress == 100) == r.passed


@settings(max_examples=800, deadline=None)
@given(ladders(), gates)
def test_the_deciding_criterion_is_what_blocks_the_tier_above_or_is_closest_to_failing_at_the_top(ladder, gate):
    tiers, partner = ladder
    result = evaluate(tiers, partner, gate)
    above = result.next_tier
    if above is not None:
        failing = {r.criterion.label for r in above.failing}
        assert result.deciding in failing | {GATE}
        if result.deciding == GATE:
            assert not above.gate_ok
        else:
            worst = max(r.shortfall for r in above.failing)
            assert next(r for r in above.failing if r.criterion.label == result.deciding).shortfall == worst
    elif result.tier is not None and result.landing.criteria:
        assert result.deciding in {r.criterion.label for r in result.landing.criteria}


@settings(max_examples=500, deadline=None)
@given(ladders(), gates, st.data())
def test_more_of_any_figure_never_lowers_the_tier(ladder, gate, data):
    tiers, partner = ladder
    if not partner:
        return
    key = data.draw(st.sampled_from(sorted(partner)))
    raised = {
        **partner,
        key: (partner[key] or Decimal(0)) + data.draw(st.decimals(min_value=0, max_value=500, places=0)),
    }
    before, after = evaluate(tiers, partner, gate), evaluate(tiers, raised, gate)
    assert (after.tier.rank if after.tier else 0) >= (before.tier.rank if before.tier else 0)


@settings(max_examples=300, deadline=None)
@given(ladders())
def test_passing_the_gate_never_lowers_the_tier(ladder):
    tiers, partner = ladder
    rank = {gate: (evaluate(tiers, partner, gate).tier or TierSpec(0, "", 0)).rank for gate in (True, False, None)}
    assert rank[True] >= rank[None] == rank[False]


def _ladder():
    return [
        TierSpec(1, "Registered", 1, (CriterionSpec("contract", "Signed contract", Decimal(1), "boolean"),)),
        TierSpec(2, "Selling", 2, (CriterionSpec("arr", "ARR sourced", Decimal(50_000), "currency"),)),
        TierSpec(3, "Specialist", 3, (CriterionSpec("arr3", "ARR sourced", Decimal(250_000), "currency"),)),
    ]


def test_a_partner_failing_every_tier_is_on_no_tier_and_an_exit_candidate():
    result = evaluate(_ladder(), {"contract": Decimal(0), "arr": Decimal(10_000), "arr3": Decimal(10_000)}, True)
    assert result.tier is None and result.exit_candidate
    assert result.deciding == "Signed contract"
    assert explain(result, None) == "Not yet Registered: Signed contract: no."
    assert explain(result, 2) == "Below Selling: ARR sourced $10,000 < $50,000; qualifies for no tier."


def test_a_failed_4c_check_caps_the_partner_at_entry_and_flags_an_exit():
    result = evaluate(_ladder(), {"contract": Decimal(1), "arr": Decimal(60_000), "arr3": Decimal(60_000)}, False)
    assert result.tier.name == "Registered" and result.exit_candidate
    assert result.deciding == GATE
    assert "graceful exit" in explain(result, 2)


def test_the_reason_names_what_was_cleared_on_the_way_up_and_what_failed_on_the_way_down():
    partner = {"contract": Decimal(1), "arr": Decimal(60_000), "arr3": Decimal(60_000)}
    result = evaluate(_ladder(), partner, True)
    assert explain(result, 1) == ("Meets Selling: ARR sourced $60,000 ≥ $50,000; 4C qualification gate passed.")
    assert explain(result, 3) == "Below Specialist: ARR sourced $60,000 < $250,000; qualifies for Selling."
    assert explain(result, 2).startswith("Keeps Selling")


def test_values_read_as_people_write_them():
    assert format_value(Decimal(250_000), "currency") == "$250,000"
    assert format_value(Decimal(-50_000), "currency") == "-$50,000"
    assert format_value(Decimal("87.50"), "percent") == "87.50%"
    assert format_value(Decimal(1), "boolean") == "yes"
    assert format_value(None, "count") == "no data"


@settings(max_examples=1500, deadline=None)
@given(ladders(), gates)
def test_the_compiled_ladder_decides_exactly_as_the_full_evaluation(ladder, gate):
    tiers, partner = ladder
    full = evaluate(tiers, partner, gate)
    assert CompiledLadder(tiers).decide(partner, gate) == (full.tier, full.deciding)


def test_a_ladder_without_tiers_decides_no_tier_as_the_full_evaluation_does():
    full = evaluate([], {}, None)
    assert CompiledLadder([]).decide({}, None) == (full.tier, full.deciding) == (None, "")


@settings(max_examples=600, deadline=None)
@given(ladders(), gates, st.one_of(st.none(), st.integers(1, 5)))
def test_the_compiled_ladder_explains_exactly_as_the_full_evaluation(ladder, gate, current_rank):
    tiers, partner = ladder
    full = evaluate(tiers, partner, gate)
    compiled = CompiledLadder(tiers)
    tier, deciding = compiled.decide(partner, gate)
    if current_rank is not None and current_rank > len(tiers):
        current_rank = None
    assert compiled.explain(partner, gate, tier, deciding, current_rank) == explain(full, current_rank)
