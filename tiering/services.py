"""Tiering changes. Each change has exactly one function here; the admin, commands and tasks call them.

The re-tier reads metric aggregates in SQL per window (a fixed number of queries per chunk of
partners), evaluates each partner with the pure `evaluation` module, writes results in bulk, and
applies the moves with set-based statements in one transaction. Standings are audited by
PostgreSQL triggers, so those bulk writes are in the trail too.
"""

import datetime as dt
import json
import logging
import math
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone

from partnerportal.audit import audit_context
from partnerportal.bulk import replan_audit_triggers
from programs.models import Metric, Partner, PartnerMotion, User

from . import evaluation
from .measures import Measure, criterion_values
from .models import (
    EXCLUSIVITY_DAYS,
    GRANDFATHERING,
    POLICY_NOTICE_DAYS,
    AccountClaim,
    Benefit,
    Criterion,
    DowngradeConversation,
    Engagement,
    Ladder,
    Policy,
    QualificationCheck,
    RetierResult,
    RetierRun,
    Standing,
    Tier,
    TierChange,
    notice_error,
    window_bounds,
)

log = logging.getLogger(__name__)
Move = RetierResult.Move
# A run reads the figures of up to READ_CHUNK partners of a ladder with one set of queries (fewer,
# larger aggregates are faster than many small ones), and writes each chunk's results in at most
# WRITE_BATCHES batches of at least WRITE_BATCH_MIN, moving the progress bar after each.
READ_CHUNK = 250_000
WRITE_BATCHES = 10
WRITE_BATCH_MIN = 1000
# A run still marked running after this long was cut off (worker killed); it may be picked up again.
RUN_STALE_AFTER = dt.timedelta(hours=1)


# --- Policies --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LadderSetup:
    """A ladder with the tiers and criteria one evaluation uses."""

    ladder: Ladder
    policy: Policy | None
    tiers: tuple[Tier, ...]
    specs: tuple[evaluation.TierSpec, ...]
    measures: tuple[Measure, ...]

    @property
    def rank_of(self) -> dict[int, int]:
        return {tier.pk: tier.rank for tier in self.tiers}

    def snapshot(self) -> dict:
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


def specs_from_snapshot(snapshot: dict) -> list[evaluation.TierSpec]:
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


def result_values(snapshot: dict, stored: list) -> dict[str, Decimal | None]:
    """Return a result's criterion values by criterion key, as the run evaluated them."""
    return {key: None if raw is None else Decimal(raw) for key, raw in zip(snapshot["keys"], stored, strict=True)}


def window_label(criterion_window: str, aggregation: str, as_of: dt.date) -> str:
    if aggregation == Metric.Aggregation.CERTIFICATIONS:
        return f"valid on {as_of:%d %b %Y}"
    start, end = window_bounds(criterion_window, as_of)
    return f"{start:%d %b %Y} – {end:%d %b %Y}"


def criterion_spec(criterion, as_of: dt.date) -> evaluation.CriterionSpec:
    """Return the pure spec of a Criterion or MdfCriterion (metric preloaded) on `as_of`."""
    metric = criterion.metric
    return evaluation.CriterionSpec(
        key=f"{criterion._meta.model_name}:{criterion.pk}",
        label=metric.name,
        threshold=criterion.threshold,
        unit=metric.unit,
        window=window_label(criterion.window, metric.aggregation, as_of),
    )


def measure_of(criterion) -> Measure:
    return Measure(
        key=f"{criterion._meta.model_name}:{criterion.pk}",
        metric_id=criterion.metric_id,
        aggregation=criterion.metric.aggregation,
        window=criterion.window,
    )


def ladder_setup(ladder: Ladder, policy: Policy | None, as_of: dt.date, tiers=None) -> LadderSetup:
    """Return `ladder`'s tiers with `policy`'s criteria, evaluated on `as_of`."""
    tiers = tuple(tiers if tiers is not None else ladder.tiers.order_by("rank"))
    criteria = _criteria_of(policy) if policy else []
    by_tier: dict[int, list] = {}
    for criterion in criteria:
        by_tier.setdefault(criterion.tier_id, []).append(criterion)
    specs = tuple(
        evaluation.TierSpec(
            key=tier.pk,
            name=tier.name,
            rank=tier.rank,
            criteria=tuple(criterion_spec(c, as_of) for c in by_tier.get(tier.pk, [])),
        )
        for tier in tiers
    )
    return LadderSetup(ladder, policy, tiers, specs, tuple(measure_of(c) for c in criteria))


def _criteria_of(policy: Policy) -> list[Criterion]:
    if "criteria" in getattr(policy, "_prefetched_objects_cache", {}):
        return list(policy.criteria.all())
    return list(policy.criteria.select_related("metric"))


@transaction.atomic
def publish_policy(policy: Policy, *, by: User, today: dt.date | None = None) -> Policy:
    """Publish a draft policy; it takes effect on its date, at least 90 days from today."""
    today = today or timezone.localdate()
    policy = Policy.objects.select_for_update().get(pk=policy.pk)
    if not policy.is_draft:
        raise ValidationError(f"{policy} is already {policy.get_status_display().lower()}; only drafts are published.")
    if policy.effective_from is None:
        raise ValidationError(
            f"Set the day {policy} takes effect first: at least {POLICY_NOTICE_DAYS} days after publishing."
        )
    if policy.effective_from < today + dt.timedelta(days=POLICY_NOTICE_DAYS):
        raise ValidationError(notice_error(today))
    tiers = list(policy.ladder.tiers.annotate(n=Count("criteria", filter=Q(criteria__policy=policy))))
    if not tiers:
        raise ValidationError(f"{policy.ladder} has no tiers yet.")
    bare = [tier.name for tier in tiers if tier.n == 0 and not tier.is_entry]
    if bare:
        raise ValidationError(
            f"{', '.join(bare)} {'has' if len(bare) == 1 else 'have'} no criteria in {policy}: every partner "
            "passing the 4C gate would reach it. Add criteria before publishing."
        )
    if Policy.objects.announced().filter(ladder=policy.ladder, effective_from=policy.effective_from).exists():
        raise ValidationError(f"Another published policy of {policy.ladder} takes effect on {policy.effective_from}.")
    with audit_context(action="publish_policy", actor=by.pk):
        policy.status = Policy.Status.PUBLISHED
        policy.published_on = today
        policy.published_by = by
        policy.save(update_fields=["status", "published_on", "published_by"])
    return policy


@transaction.atomic
def draft_next_version(policy: Policy, *, by: User) -> Policy:
    """Return a new draft of `policy`'s ladder with a copy of its criteria, to edit and publish."""
    latest = Policy.objects.select_for_update().filter(ladder=policy.ladder_id).order_by("-version").first()
    with audit_context(action="draft_policy", actor=by.pk):
        draft = Policy.objects.create(
            ladder=policy.ladder, version=latest.version + 1, summary=f"Based on version {policy.version}."
        )
        Criterion.objects.bulk_create(
            Criterion(policy=draft, tier_id=c.tier_id, metric_id=c.metric_id, threshold=c.threshold, window=c.window)
            for c in policy.criteria.all()
        )
    return draft


def activate_due_policies(today: dt.date) -> int:
    """Mark each ladder's policy in force as effective and the ones it replaced as retired; return changes."""
    changed = 0
    for ladder in Ladder.objects.all():
        in_force = Policy.objects.in_force_on(ladder, today)
        if in_force is None:
            continue
        with transaction.atomic(), audit_context(action="activate_policies"):
            changed += Policy.objects.filter(pk=in_force.pk, status=Policy.Status.PUBLISHED).update(
                status=Policy.Status.EFFECTIVE
            )
            changed += (
                Policy.objects.filter(ladder=ladder, effective_from__lt=in_force.effective_from)
                .exclude(status__in=[Policy.Status.DRAFT, Policy.Status.RETIRED])
                .update(status=Policy.Status.RETIRED, retired_on=in_force.effective_from)
            )
    return changed


# --- Re-tier runs ----------------------------------------------------------------------------------


def start_run(
    *,
    kind: str,
    as_of: dt.date,
    by: User | None,
    ladder: Ladder | None = None,
    policy: Policy | None = None,
    scheduled_for_year: int | None = None,
    enqueue: bool = True,
) -> RetierRun:
    """Create a run and hand it to a worker once committed; refuse what cannot be run."""
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
            run = RetierRun.objects.create(
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
    if enqueue:
        from .tasks import execute_run_task

        transaction.on_commit(lambda: execute_run_task.delay(run.pk))
    return run


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
        setups = _setups(run)
        participants = {setup.ladder.pk: _participants(setup.ladder) for setup in setups}
        run.total = sum(len(ids) for ids in participants.values())
        run.processed = 0
        run.criteria = {str(setup.ladder.pk): setup.snapshot() for setup in setups}
        run.save(update_fields=["total", "processed", "criteria"])
        for setup in setups:
            _compute_ladder(run, setup, participants[setup.ladder.pk])
        if run.kind == RetierRun.Kind.APPLY:
            _apply(run, [setup.ladder for setup in setups])
        run.summary = summarize(run, setups)
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


def _setups(run: RetierRun) -> list[LadderSetup]:
    ladders = [run.ladder] if run.ladder_id else list(Ladder.objects.select_related("motion"))
    setups = []
    for ladder in ladders:
        policy = run.policy if run.policy_id else Policy.objects.in_force_on(ladder, run.as_of)
        if policy is not None:
            setups.append(ladder_setup(ladder, policy, run.as_of))
    return setups


def _participants(ladder: Ladder) -> list[int]:
    """Return the ids of the partners in the ladder's motion (not exited), ascending."""
    return list(
        PartnerMotion.objects.filter(motion=ladder.motion_id)
        .exclude(partner__status__in=[Partner.Status.EXITED, Partner.Status.PROSPECT])
        .order_by("partner_id")
        .values_list("partner_id", flat=True)
    )


def latest_gates(motion_id: int, as_of: dt.date, **partners) -> dict[int, bool]:
    """Return each partner's latest 4C result in the motion on or before `as_of`."""
    gates: dict[int, bool] = {}
    checks = (
        QualificationCheck.objects.filter(motion=motion_id, assessed_on__lte=as_of, **partners)
        .order_by("partner_id", "-assessed_on", "-pk")
        .values_list("partner_id", "customer_base", "credibility", "capability", "commitment")
    )
    for partner_id, *cs in checks:
        gates.setdefault(partner_id, all(cs))
    return gates


def _split(ids: list, size: int) -> list[list]:
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


def _compute_ladder(run: RetierRun, setup: LadderSetup, ids: list[int]) -> None:
    """Evaluate every partner of a ladder: figures read per chunk, results written and counted per batch."""
    ladder_pass = _LadderPass(run, setup)
    for chunk in _split(ids, _balanced_size(len(ids), READ_CHUNK)):
        values = criterion_values(setup.measures, run.as_of, partner_id__gte=chunk[0], partner_id__lte=chunk[-1])
        for batch in _split(chunk, max(WRITE_BATCH_MIN, math.ceil(len(chunk) / WRITE_BATCHES))):
            rows = [ladder_pass.result_row(partner_id, values.for_partner(partner_id)) for partner_id in batch]
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    # Results can always be computed again: no need to wait for the disk at each batch.
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL synchronous_commit TO OFF")
                _write_results(rows)
                RetierRun.objects.filter(pk=run.pk).update(processed=F("processed") + len(batch))


class _LadderPass:
    """What evaluating one ladder's partners needs at hand: tiers, current standings, 4C results."""

    def __init__(self, run: RetierRun, setup: LadderSetup):
        self.run, self.setup = run, setup
        self.rank_of = setup.rank_of
        self.keys = [measure.key for measure in setup.measures]
        self.ladder = evaluation.CompiledLadder(setup.specs)
        self.current = dict(Standing.objects.filter(ladder=setup.ladder).values_list("partner_id", "tier_id"))
        self.gates = latest_gates(setup.ladder.motion_id, run.as_of)

    def result_row(self, partner_id: int, values: dict) -> tuple:
        """Return the result of one partner as a row of _RESULT_COLUMNS."""
        gate = self.gates.get(partner_id)
        tier, deciding = self.ladder.decide(values, gate)
        current_tier = self.current.get(partner_id)
        current_rank = self.rank_of.get(current_tier) if current_tier else None
        move = classify(current_rank, tier.rank if tier else None)
        reason = self.ladder.explain(values, gate, tier, deciding, current_rank)
        # JSON by hand: decimal text needs no escaping, and this runs once per partner.
        stored = "[" + ",".join(["null" if (value := values[key]) is None else f'"{value}"' for key in self.keys]) + "]"
        return (
            self.run.pk,
            partner_id,
            self.setup.ladder.pk,
            current_tier,
            tier.key if tier else None,
            move,
            gate,
            evaluation.is_exit_candidate(tier, gate),
            stored,
            deciding,
            reason,
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
    "reason",
]


def _write_results(rows: list[tuple]) -> None:
    """Store a chunk of results: one COPY on PostgreSQL (the fastest way in), a bulk INSERT elsewhere."""
    if connection.vendor == "postgresql":
        columns = ", ".join(connection.ops.quote_name(column) for column in _RESULT_COLUMNS)
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {_table(RetierResult)} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    RetierResult.objects.bulk_create(
        RetierResult(
            **dict(zip(_RESULT_COLUMNS[:8], row[:8], strict=True)),
            values=json.loads(row[8]),
            deciding=row[9],
            reason=row[10],
        )
        for row in rows
    )


def _apply(run: RetierRun, ladders: list[Ladder]) -> None:
    """Apply a re-tier's results: entries and upgrades at once, drops as grandfathered pending drops.

    Set-based: a few INSERT … SELECT and UPDATE … FROM statements per ladder, whatever the number of
    partners. Each UPDATE matches the standing still on the tier the run read, so a change made
    meanwhile (a drop applied) is never overwritten.
    """
    grace_until = run.as_of + GRANDFATHERING
    on_read_tier = "s.tier_id = r.current_tier_id"
    if connection.vendor == "postgresql":
        # The results were just written in bulk: without fresh statistics the planner takes them
        # for a few rows and joins them to the standings row by row.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {_table(RetierResult)}, {_table(Standing)}")
    with transaction.atomic(), audit_context(action="apply_retier", run=run.pk):
        # Writes to standings (a conversation, a drop applied) wait for the re-tier; reads go on.
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {_table(Standing)} IN EXCLUSIVE MODE")
        for ladder in ladders:
            _insert_changes(run, ladder)
            # Back on the ladder after an exit: the standing exists without a tier.
            _update_standings(
                run, ladder, [Move.ENTRY], "tier_id = r.computed_tier_id, since = %s", [run.as_of],
                where="s.tier_id IS NULL",
            )  # fmt: skip
            _insert_entries(run, ladder)
            cleared = "grandfathered_until = NULL, pending_since = NULL, pending_tier_id = NULL, pending_run_id = NULL"
            _update_standings(
                run, ladder, [Move.UP], f"tier_id = r.computed_tier_id, since = %s, {cleared}", [run.as_of],
                where=on_read_tier,
            )  # fmt: skip
            # Back on track: a pending drop is cancelled. Standings with nothing to change are left alone.
            _update_standings(
                run, ladder, [Move.SAME], cleared, [],
                where=f"{on_read_tier} AND (s.grandfathered_until IS NOT NULL OR s.exit_candidate <> r.exit_candidate)",
            )  # fmt: skip
            # A drop already pending keeps its first grandfathering date: running twice changes nothing.
            _update_standings(
                run,
                ladder,
                [Move.DOWN, Move.EXIT],
                "grandfathered_until = COALESCE(s.grandfathered_until, %s), pending_since = COALESCE(s.pending_since, %s),"
                " pending_run_id = COALESCE(s.pending_run_id, %s), pending_tier_id = r.computed_tier_id",
                [grace_until, run.as_of, run.pk],
                where=f"{on_read_tier} AND (s.grandfathered_until IS NULL"
                " OR s.pending_tier_id IS DISTINCT FROM r.computed_tier_id OR s.exit_candidate <> r.exit_candidate)",
            )


def _update_standings(run, ladder, moves, assignments: str, params: list, *, where: str) -> None:
    """UPDATE, in one statement, the standings `where` holds among those the run's results of `moves` name."""
    marks = ", ".join(["%s"] * len(moves))
    replan_audit_triggers()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {_table(Standing)} AS s
            SET {assignments}, exit_candidate = r.exit_candidate, updated_at = %s
            FROM {_table(RetierResult)} AS r
            WHERE r.run_id = %s AND r.ladder_id = %s AND r.move IN ({marks})
              AND s.partner_id = r.partner_id AND s.ladder_id = r.ladder_id AND {where}
            """,  # noqa: S608 (table names come from the models; values are parameters)
            [*params, timezone.now(), run.pk, ladder.pk, *moves],
        )


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _insert_changes(run: RetierRun, ladder: Ladder) -> None:
    """Record entries and upgrades as history, in one INSERT … SELECT (before the standings move)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_table(TierChange)}
                (partner_id, ladder_id, kind, from_tier_id, to_tier_id, run_id, reason, effective_on,
                 recorded_at, recorded_by_id)
            SELECT r.partner_id, r.ladder_id,
                   CASE WHEN r.move = %s THEN %s ELSE %s END,
                   r.current_tier_id, r.computed_tier_id, r.run_id, r.reason, %s, %s, %s
            FROM {_table(RetierResult)} r
            LEFT JOIN {_table(Standing)} s ON s.partner_id = r.partner_id AND s.ladder_id = r.ladder_id
            WHERE r.run_id = %s AND r.ladder_id = %s
              AND ((r.move = %s AND s.tier_id IS NULL) OR (r.move = %s AND s.tier_id = r.current_tier_id))
            """,  # noqa: S608 (table names come from the models; values are parameters)
            [
                Move.ENTRY,
                TierChange.Kind.ENTRY,
                TierChange.Kind.UPGRADE,
                run.as_of,
                timezone.now(),
                run.created_by_id,
                run.pk,
                ladder.pk,
                Move.ENTRY,
                Move.UP,
            ],
        )


def _insert_entries(run: RetierRun, ladder: Ladder) -> None:
    """Create the standings of partners who join the ladder, in one INSERT … SELECT."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {_table(Standing)} (partner_id, ladder_id, tier_id, since, exit_candidate, updated_at)
            SELECT r.partner_id, r.ladder_id, r.computed_tier_id, %s, r.exit_candidate, %s
            FROM {_table(RetierResult)} r
            WHERE r.run_id = %s AND r.ladder_id = %s AND r.move = %s
            ON CONFLICT (partner_id, ladder_id) DO NOTHING
            """,  # noqa: S608 (table names come from the models; values are parameters)
            [run.as_of, timezone.now(), run.pk, ladder.pk, Move.ENTRY],
        )


def summarize(run: RetierRun, setups: list[LadderSetup]) -> dict:
    """Return per ladder: tier counts before and after, the movement matrix, moves, top-tier share."""
    counts = (
        RetierResult.objects.filter(run=run)
        .values_list("ladder_id", "current_tier_id", "computed_tier_id", "move")
        .annotate(n=Count("id"))
    )
    summary = {}
    for setup in setups:
        summary[str(setup.ladder.pk)] = {
            "ladder": setup.ladder.name,
            "policy": str(setup.policy),
            "tiers": [[tier.pk, tier.name] for tier in setup.tiers],
            "before": {},
            "after": {},
            "held": {},
            "matrix": {},
            "moves": {},
            "total": 0,
        }
    for ladder_id, current, computed, move, n in counts:
        entry = summary[str(ladder_id)]
        before, after = str(current or "none"), str(computed or "none")
        # What partners hold after the run: drops are grandfathered, so they keep their tier for now.
        held = before if move in (Move.DOWN, Move.EXIT) else after
        for key, tier in (("before", before), ("after", after), ("held", held)):
            entry[key][tier] = entry[key].get(tier, 0) + n
        entry["matrix"].setdefault(before, {})
        entry["matrix"][before][after] = entry["matrix"][before].get(after, 0) + n
        entry["moves"][move] = entry["moves"].get(move, 0) + n
        entry["total"] += n
    for setup in setups:
        entry = summary[str(setup.ladder.pk)]
        top = str(setup.tiers[-1].pk) if setup.tiers else "none"
        for key in ("before", "after", "held"):
            entry[f"top_share_{key}"] = round(entry[key].get(top, 0) / entry["total"], 4) if entry["total"] else 0.0
    return summary


def inflation_trend(ladder: Ladder, *, until: RetierRun | None = None) -> list[tuple[dt.date, float, RetierRun]]:
    """Return the top-tier share after each applied re-tier of `ladder` (tier inflation over time)."""
    runs = RetierRun.objects.applied().filter(Q(ladder=ladder) | Q(ladder__isnull=True)).order_by("as_of", "pk")
    if until is not None:
        runs = runs.filter(created_at__lt=until.created_at)
    trend = []
    for run in runs:
        entry = run.summary.get(str(ladder.pk))
        if entry:
            trend.append((run.as_of, entry.get("top_share_held", entry.get("top_share_after", 0.0)), run))
    return trend


# --- Downgrades ------------------------------------------------------------------------------------


@transaction.atomic
def record_downgrade_conversation(
    standing: Standing, *, by: User, held_on: dt.date, partner_contact: str, notes: str, today: dt.date | None = None
) -> DowngradeConversation:
    """Record the downgrade conversation; the drop applies now if its grandfathering is over."""
    today = today or timezone.localdate()
    standing = Standing.objects.select_for_update(of=("self",)).select_related("partner", "tier").get(pk=standing.pk)
    if not standing.has_pending_drop:
        raise ValidationError(f"{standing.partner} has no pending downgrade in {standing.ladder}: nothing to record.")
    if held_on > today:
        raise ValidationError({"held_on": "Record a conversation once it has been held, not before."})
    if held_on < standing.pending_since:
        raise ValidationError(
            {"held_on": f"The drop was decided on {standing.pending_since:%d %b %Y}; talk to the partner after that."}
        )
    if not notes.strip() or not partner_contact.strip():
        raise ValidationError("Say whom you spoke to and what was said.")
    with audit_context(action="record_downgrade_conversation", actor=by.pk):
        conversation = DowngradeConversation.objects.create(
            standing=standing, held_on=held_on, held_by=by, partner_contact=partner_contact.strip(), notes=notes.strip()
        )
        if standing.grandfathered_until < today:
            _apply_drop(standing, today=today, by=by)
    return conversation


def apply_due_downgrades(today: dt.date) -> int:
    """Apply every drop whose grandfathering is over and whose conversation is on record; return how many."""
    talked = DowngradeConversation.objects.filter(standing=OuterRef("pk"), held_on__gte=OuterRef("pending_since"))
    due = Standing.objects.filter(grandfathered_until__lt=today).filter(Exists(talked)).values_list("pk", flat=True)
    applied = 0
    for pk in list(due):
        with transaction.atomic(), audit_context(action="apply_downgrade"):
            standing = Standing.objects.select_for_update().get(pk=pk)
            if standing.has_pending_drop and standing.grandfathered_until < today:
                _apply_drop(standing, today=today, by=None)
                applied += 1
    return applied


def _apply_drop(standing: Standing, *, today: dt.date, by: User | None) -> None:
    reason = (
        RetierResult.objects.filter(run=standing.pending_run_id, partner=standing.partner_id, ladder=standing.ladder_id)
        .values_list("reason", flat=True)
        .first()
    ) or "Below the tier's criteria at the last re-tier."
    talk = standing.conversations.order_by("-held_on", "-pk").first()
    TierChange.objects.create(
        partner_id=standing.partner_id,
        ladder_id=standing.ladder_id,
        kind=TierChange.Kind.DOWNGRADE if standing.pending_tier_id else TierChange.Kind.EXIT,
        from_tier_id=standing.tier_id,
        to_tier_id=standing.pending_tier_id,
        run_id=standing.pending_run_id,
        reason=f"{reason} Grandfathered until {standing.grandfathered_until:%d %b %Y}; "
        f"conversation with {talk.partner_contact} on {talk.held_on:%d %b %Y}.",
        effective_on=today,
        recorded_by=by,
    )
    standing.tier_id = standing.pending_tier_id
    standing.since = today
    standing.grandfathered_until = None
    standing.pending_since = None
    standing.pending_tier = None
    standing.pending_run = None
    standing.save()


# --- Named-account exclusivity ---------------------------------------------------------------------


def account_key(name: str) -> str:
    return " ".join(name.casefold().split())


def holds_exclusivity(partner: Partner) -> bool:
    """Return True when one of the partner's tiers (grandfathered ones included) includes exclusivity."""
    return Standing.objects.filter(
        partner=partner, tier__tier_benefits__benefit__kind=Benefit.Kind.EXCLUSIVITY
    ).exists()


@transaction.atomic
def claim_account(partner: Partner, *, account_name: str, by: User, now: dt.datetime | None = None) -> AccountClaim:
    """Give `partner` exclusivity on a named account for 90 days; refuse an account another partner holds."""
    now = now or timezone.now()
    membership = by.membership
    if membership is None or membership.partner_id != partner.pk:
        raise PermissionDenied("You can only claim accounts for your own organisation.")
    name = " ".join(account_name.split())
    if not name:
        raise ValidationError({"account_name": "Name the account."})
    if not holds_exclusivity(partner):
        raise ValidationError("Named-account exclusivity is not among the benefits of your tiers.")
    key = account_key(name)
    held = AccountClaim.objects.held().filter(account_key=key).select_related("partner").first()
    if held is not None:
        if held.partner_id == partner.pk:
            raise ValidationError(
                {"account_name": f"You already hold {held.account_name} until {held.expires_at:%d %b %Y}."}
            )
        raise ValidationError(
            {
                "account_name": f"{held.account_name} is held by another partner until {held.expires_at:%d %b %Y} "
                f"(or until {settings.EXCLUSIVITY_ENGAGEMENT_DAYS} days pass without engagement); claims are exclusive."
            }
        )
    try:
        with transaction.atomic(), audit_context(action="claim_account", actor=by.pk):
            return AccountClaim.objects.create(
                partner=partner,
                account_name=name,
                account_key=key,
                claimed_by=by,
                claimed_at=now,
                expires_at=now + dt.timedelta(days=EXCLUSIVITY_DAYS),
            )
    except IntegrityError as error:  # claimed by someone else a moment ago
        raise ValidationError({"account_name": f"{name} was just claimed by another partner."}) from error


@transaction.atomic
def log_engagement(claim: AccountClaim, *, by: User, note: str, now: dt.datetime | None = None) -> Engagement:
    """Log work on a held account: it keeps the claim from being released for lack of engagement."""
    now = now or timezone.now()
    claim = AccountClaim.objects.select_for_update().get(pk=claim.pk)
    membership = by.membership
    if membership is None or membership.partner_id != claim.partner_id:
        raise PermissionDenied("Only the partner holding the account logs engagement on it.")
    if not claim.is_held:
        raise ValidationError("This claim was released; claim the account again to work on it.")
    if not note.strip():
        raise ValidationError({"note": "Say what happened (a meeting, a proposal, a demo…)."})
    with audit_context(action="log_engagement", actor=by.pk):
        return Engagement.objects.create(claim=claim, logged_at=now, logged_by=by, note=note.strip())


@transaction.atomic
def release_claim(claim: AccountClaim, *, reason: str, by: User | None, now: dt.datetime | None = None) -> AccountClaim:
    """Release a held account (withdrawn by its partner or by the program)."""
    now = now or timezone.now()
    claim = AccountClaim.objects.select_for_update().get(pk=claim.pk)
    if by is not None and not by.is_portal_staff:
        membership = by.membership
        if membership is None or membership.partner_id != claim.partner_id:
            raise PermissionDenied("Only the partner holding the account can withdraw the claim.")
    if not claim.is_held:
        raise ValidationError("This claim is released already.")
    with audit_context(action="release_claim", actor=by.pk if by else None):
        claim.released_at = now
        claim.release_reason = reason
        claim.save(update_fields=["released_at", "release_reason"])
    return claim


def release_stale_claims(now: dt.datetime, *, engagement_days: int) -> dict[str, int]:
    """Release held claims past their 90 days or without engagement for `engagement_days`; set-based."""
    quiet_since = now - dt.timedelta(days=engagement_days)
    recent = Engagement.objects.filter(claim=OuterRef("pk"), logged_at__gt=quiet_since)
    held = AccountClaim.objects.held()
    with transaction.atomic(), audit_context(action="release_stale_claims"):
        expired = held.filter(expires_at__lte=now).update(released_at=now, release_reason=AccountClaim.Release.EXPIRED)
        quiet = (
            held.filter(claimed_at__lte=quiet_since)
            .exclude(Exists(recent))
            .update(released_at=now, release_reason=AccountClaim.Release.NO_ENGAGEMENT)
        )
    return {"expired": expired, "no_engagement": quiet}


# --- Scheduled upkeep ------------------------------------------------------------------------------


def annual_retier_date(year: int) -> dt.date:
    month, day = settings.RETIER_DATE
    return dt.date(year, month, day)


def next_retier_date(today: dt.date) -> dt.date:
    """Return the next scheduled annual re-tier after `today`."""
    this_year = annual_retier_date(today.year)
    return this_year if this_year > today else annual_retier_date(today.year + 1)


def run_upkeep(now: dt.datetime | None = None) -> dict:
    """Do the periodic tiering work (hourly, idempotent): policies, due downgrades, claims, the annual re-tier."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    done = {
        "policies": activate_due_policies(today),
        "downgrades": apply_due_downgrades(today),
        **release_stale_claims(now, engagement_days=settings.EXCLUSIVITY_ENGAGEMENT_DAYS),
    }
    due = annual_retier_date(today.year)
    # A re-tier dated on or after this year's day, scheduled or started by hand, is this year's re-tier.
    done_this_year = RetierRun.objects.filter(
        Q(scheduled_for_year=today.year) | Q(kind=RetierRun.Kind.APPLY, as_of__gte=due)
    ).exclude(status=RetierRun.Status.FAILED)
    if today >= due and not done_this_year.exists():
        try:
            run = start_run(kind=RetierRun.Kind.APPLY, as_of=due, by=None, scheduled_for_year=today.year, enqueue=False)
        except ValidationError as error:
            log.warning("Annual re-tier of %s not started: %s", today.year, " ".join(error.messages))
        else:
            execute_run(run)
            done["retier_run"] = run.pk
    return done
