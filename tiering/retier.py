"""Re-tier runs: evaluate every partner of every ladder on a day, store the results, apply a re-tier.

A run reads metric aggregates in SQL per window (a fixed number of queries per chunk of partners),
evaluates each partner with the pure `evaluation` module, and writes its results in bulk. A dry
run stops there; a re-tier then moves the standings with `retier_apply.apply_retier`.
"""

import datetime as dt
import json
import logging
import math
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from programs.models import Partner, PartnerMotion, User

from . import evaluation
from .ladder_rules import LadderRules, ladder_rules
from .measures import criterion_values
from .models import Ladder, Policy, QualificationCheck, RetierResult, RetierRun, Standing
from .retier_apply import apply_retier, quoted_table

log = logging.getLogger(__name__)
Move = RetierResult.Move
# A run reads the metric values of up to READ_CHUNK partners of a ladder with one set of queries
# (fewer, larger aggregates are faster than many small ones, up to a point: at 100,000 partners,
# chunks of 50,000 take as long as one of 250,000 and hold half the memory: a run's peak ≈ 220 MiB
# against ≈ 320), and writes each chunk's results in at most WRITE_BATCHES batches of at least
# WRITE_BATCH_MIN, moving the progress bar after each.
READ_CHUNK = 50_000
WRITE_BATCHES = 10
WRITE_BATCH_MIN = 1000
# A run still marked running after this long was cut off (worker killed); it may be picked up again.
RUN_STALE_AFTER = dt.timedelta(hours=1)


def start_run(
    *,
    kind: str,
    as_of: dt.date,
    by: User | None,
    ladder: Ladder | None = None,
    policy: Policy | None = None,
    scheduled_for_year: int | None = None,
) -> RetierRun:
    """Create a queued run; refuse what cannot be run. The caller executes it or hands it to a worker."""
    if policy is not None:
        if ladder is not None and policy.ladder_id != ladder.pk:
            raise ValidationError(f"{policy} is not a policy of {ladder}.")
        ladder = policy.ladder
    if kind == RetierRun.Kind.APPLY:
        if policy is not None:
            raise ValidationError(
                "A re-tier applies the policy in force on its day; a chosen policy is for dry runs only."
            )
        if as_of > timezone.localdate():
            raise ValidationError("A re-tier cannot be dated in the future; use a dry run to look ahead.")
    try:
        with transaction.atomic():
            return RetierRun.objects.create(
                kind=kind,
                as_of=as_of,
                ladder=ladder,
                policy=policy,
                created_by=by,
                scheduled_for_year=scheduled_for_year,
            )
    except IntegrityError as error:
        running = RetierRun.objects.filter(kind=RetierRun.Kind.APPLY, status__in=["queued", "running"]).first()
        if running is not None:
            raise ValidationError(f"{running} is not finished yet; start the next re-tier after it.") from error
        raise ValidationError(f"The scheduled re-tier of {scheduled_for_year} exists already.") from error


def execute_run(run: RetierRun, *, now: dt.datetime | None = None) -> RetierRun:
    """Compute every partner × ladder of `run`, store the results, and apply them for a re-tier."""
    now = now or timezone.now()
    claimable = Q(status=RetierRun.Status.QUEUED) | Q(
        status=RetierRun.Status.RUNNING, started_at__lt=now - RUN_STALE_AFTER
    )
    if not RetierRun.objects.filter(claimable, pk=run.pk).update(status=RetierRun.Status.RUNNING, started_at=now):
        return RetierRun.objects.get(pk=run.pk)  # finished, or another worker has it
    run.refresh_from_db()
    try:
        run.results.all().delete()  # a run picked up again starts over
        rulebook = _rules_of_run(run)
        participants = {rules.ladder.pk: _participants(rules.ladder) for rules in rulebook}
        run.total = sum(len(ids) for ids in participants.values())
        run.processed = 0
        run.criteria = {str(rules.ladder.pk): rules.snapshot() for rules in rulebook}
        run.save(update_fields=["total", "processed", "criteria"])
        for rules in rulebook:
            _compute_ladder(run, rules, participants[rules.ladder.pk])
        if run.kind == RetierRun.Kind.APPLY:
            apply_retier(run, by=run.created_by)
        run.summary = summarize(run, rulebook)
        run.status = RetierRun.Status.DONE
        run.finished_at = timezone.now()
        run.save(update_fields=["summary", "status", "finished_at"])
        run.refresh_from_db(fields=["processed"])
    except Exception as error:
        log.exception("Re-tier run %s failed", run.pk)
        RetierRun.objects.filter(pk=run.pk).update(
            status=RetierRun.Status.FAILED, error=f"{type(error).__name__}: {error}", finished_at=timezone.now()
        )
        raise
    return run


def _rules_of_run(run: RetierRun) -> list[LadderRules]:
    """Return the rules of each ladder the run evaluates: the run's policy, or the one in force on its day."""
    ladders = [run.ladder] if run.ladder is not None else list(Ladder.objects.select_related("motion"))
    rulebook = []
    for ladder in ladders:
        policy = run.policy if run.policy_id else Policy.objects.in_force_on(ladder, run.as_of)
        if policy is not None:
            rulebook.append(ladder_rules(ladder, policy, run.as_of))
    return rulebook


def _participants(ladder: Ladder) -> list[int]:
    """Return the ids of the partners in the ladder's motion (not exited), ascending."""
    return list(
        PartnerMotion.objects.filter(motion=ladder.motion_id)
        .exclude(partner__status__in=[Partner.Status.EXITED, Partner.Status.PROSPECT])
        .order_by("partner_id")
        .values_list("partner_id", flat=True)
    )


def latest_gates(motion_id: int, as_of: dt.date, **partners: object) -> dict[int, bool]:
    """Return each partner's latest 4C result in the motion on or before `as_of`."""
    gates: dict[int, bool] = {}
    checks = (
        QualificationCheck.objects.filter(motion=motion_id, assessed_on__lte=as_of, **partners)
        .order_by("partner_id", "-assessed_on", "-pk")
        .values_list("partner_id", "customer_base", "credibility", "capability", "commitment")
    )
    for partner_id, *four_cs in checks:
        gates.setdefault(partner_id, all(four_cs))
    return gates


def _split(ids: list[int], size: int) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), max(1, size))]


def _balanced_size(count: int, most: int) -> int:
    """Return the size of equal chunks of `count` items, none larger than `most`."""
    chunks = max(1, math.ceil(count / most))
    return math.ceil(count / chunks)


def classify(current_rank: int | None, computed: int | None) -> str:
    """Return the move from the tier of `current_rank` to the tier of rank `computed` (None: no tier)."""
    if current_rank is None:
        return Move.ENTRY if computed is not None else Move.UNQUALIFIED
    if computed is None:
        return Move.EXIT
    if computed > current_rank:
        return Move.UP
    return Move.SAME if computed == current_rank else Move.DOWN


def _compute_ladder(run: RetierRun, rules: LadderRules, ids: list[int]) -> None:
    """Evaluate every partner of a ladder: values read per chunk, results written and counted per batch."""
    evaluator = _LadderEvaluator(run, rules)
    for chunk in _split(ids, _balanced_size(len(ids), READ_CHUNK)):
        values = criterion_values(rules.measures, run.as_of, partner_id__gte=chunk[0], partner_id__lte=chunk[-1])
        for batch in _split(chunk, max(WRITE_BATCH_MIN, math.ceil(len(chunk) / WRITE_BATCHES))):
            rows = [evaluator.result_row(partner_id, values.for_partner(partner_id)) for partner_id in batch]
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    # Results can always be computed again: no need to wait for the disk at each batch.
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL synchronous_commit TO OFF")
                _write_results(rows)
                RetierRun.objects.filter(pk=run.pk).update(processed=F("processed") + len(batch))


# One result as a row of _RESULT_COLUMNS: run, partner, ladder, current and computed tier, move, gate,
# exit candidate, values (JSON text), deciding.
ResultRow = tuple[int, int, int, int | None, int | None, str, bool | None, bool, str, str]


class _LadderEvaluator:
    """What evaluating one ladder's partners needs at hand: tiers, current standings, 4C results."""

    def __init__(self, run: RetierRun, rules: LadderRules):
        self.run, self.rules = run, rules
        self.rank_of = rules.rank_of
        self.keys = [measure.key for measure in rules.measures]
        self.ladder = evaluation.CompiledLadder(rules.specs)
        self.current = dict(Standing.objects.filter(ladder=rules.ladder).values_list("partner_id", "tier_id"))
        self.gates = latest_gates(rules.ladder.motion_id, run.as_of)

    def result_row(self, partner_id: int, values: dict[str, Decimal | None]) -> ResultRow:
        """Return the result of one partner as a row of _RESULT_COLUMNS."""
        gate = self.gates.get(partner_id)
        tier, deciding = self.ladder.decide(values, gate)
        current_tier = self.current.get(partner_id)
        current_rank = self.rank_of.get(current_tier) if current_tier else None
        move = classify(current_rank, tier.rank if tier else None)
        # JSON by hand: decimal text needs no escaping, and this runs once per partner.
        stored_values = (
            "[" + ",".join(["null" if (value := values[key]) is None else f'"{value}"' for key in self.keys]) + "]"
        )
        return (
            self.run.pk,
            partner_id,
            self.rules.ladder.pk,
            current_tier,
            tier.key if tier else None,
            move,
            gate,
            evaluation.is_exit_candidate(tier, gate),
            stored_values,
            deciding,
        )


_RESULT_COLUMNS = [
    "run_id",
    "partner_id",
    "ladder_id",
    "current_tier_id",
    "computed_tier_id",
    "move",
    "gate_passed",
    "exit_candidate",
    "values",
    "deciding",
]


def _write_results(rows: list[ResultRow]) -> None:
    """Store a chunk of results: one COPY on PostgreSQL (the fastest way in), a bulk INSERT elsewhere."""
    if connection.vendor == "postgresql":
        columns = ", ".join(connection.ops.quote_name(column) for column in _RESULT_COLUMNS)
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {quoted_table(RetierResult)} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    RetierResult.objects.bulk_create(
        RetierResult(
            **dict(zip(_RESULT_COLUMNS[:8], row[:8], strict=True)),
            values=json.loads(row[8]),
            deciding=row[9],
        )
        for row in rows
    )


def summarize(run: RetierRun, rulebook: list[LadderRules]) -> dict[str, dict[str, Any]]:
    """Return per ladder: tier counts before and after, the movement matrix, moves, top-tier share."""
    counts = (
        RetierResult.objects.filter(run=run)
        .values_list("ladder_id", "current_tier_id", "computed_tier_id", "move")
        .annotate(partners=Count("id"))
    )
    summary = {str(rules.ladder.pk): _empty_ladder_summary(rules) for rules in rulebook}
    for ladder_id, current, computed, move, partners in counts:
        ladder_summary = summary[str(ladder_id)]
        before, after = str(current or "none"), str(computed or "none")
        # What partners hold after the run: drops are grandfathered, so they keep their tier for now.
        held = before if move in (Move.DOWN, Move.EXIT) else after
        for key, tier in (("before", before), ("after", after), ("held", held)):
            ladder_summary[key][tier] = ladder_summary[key].get(tier, 0) + partners
        row = ladder_summary["matrix"].setdefault(before, {})
        row[after] = row.get(after, 0) + partners
        ladder_summary["moves"][move] = ladder_summary["moves"].get(move, 0) + partners
        ladder_summary["total"] += partners
    for rules in rulebook:
        ladder_summary = summary[str(rules.ladder.pk)]
        top = str(rules.tiers[-1].pk) if rules.tiers else "none"
        evaluated = ladder_summary["total"]
        for key in ("before", "after", "held"):
            share = round(ladder_summary[key].get(top, 0) / evaluated, 4) if evaluated else 0.0
            ladder_summary[f"top_share_{key}"] = share
    return summary


def _empty_ladder_summary(rules: LadderRules) -> dict[str, Any]:
    return {
        "ladder": rules.ladder.name,
        "policy": str(rules.policy),
        "tiers": [[tier.pk, tier.name] for tier in rules.tiers],
        "before": {},
        "after": {},
        "held": {},
        "matrix": {},
        "moves": {},
        "total": 0,
    }
