"""Applying a re-tier: entries and upgrades at once, drops as grandfathered pending drops, with history.

Set-based: a few INSERT … SELECT and UPDATE … FROM statements per ladder, whatever the number of
partners. Each UPDATE matches the standing still on the tier the run read, so a change made
meanwhile (a drop applied) is never overwritten. Standings are audited by PostgreSQL triggers, so
these bulk writes are in the trail too, labelled with the run and the person who applied it.
"""

import datetime as dt
import json
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone

from partnerportal.audit import audit_context
from partnerportal.bulk import insert_returning
from programs.models import User

from . import notices, webhooks
from .ladder_rules import ResultWording
from .models import GRANDFATHERING, Ladder, RetierResult, RetierRun, Standing, TierChange

Move = RetierResult.Move
ON_READ_TIER = "s.tier_id = r.current_tier_id"
CLEARED = "grandfathered_until = NULL, pending_since = NULL, pending_tier_id = NULL, pending_run_id = NULL"


@transaction.atomic
def apply_retier(run: RetierRun, *, by: User | None) -> None:
    """Move the standings to the tiers `run` computed; drops wait out their grandfathering."""
    if run.kind != RetierRun.Kind.APPLY:
        raise ValidationError(f"{run} is a dry run: it changes no standing.")
    if connection.vendor == "postgresql":
        # The results were just written in bulk: without fresh statistics the planner takes them
        # for a few rows and joins them to the standings row by row.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {quoted_table(RetierResult)}, {quoted_table(Standing)}")
    with audit_context(action="apply_retier", run=run.pk, actor=by.pk if by else None):
        # Writes to standings (a conversation, a drop applied) wait for the re-tier; reads go on.
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {quoted_table(Standing)} IN EXCLUSIVE MODE")
        # The ladders the run evaluated are those of its criteria snapshot.
        wording = ResultWording(run)
        subscribed = webhooks.subscribed_partners()  # asked once: most partners have no endpoint
        for ladder_id in Ladder.objects.filter(pk__in=[int(key) for key in run.criteria]).values_list("pk", flat=True):
            _apply_ladder(run, ladder_id, by=by, wording=wording, subscribed=subscribed)


def _apply_ladder(
    run: RetierRun, ladder_id: int, *, by: User | None, wording: ResultWording, subscribed: set[int]
) -> None:
    changes = _insert_changes(run, ladder_id, by=by, wording=wording)
    webhooks.publish_tier_changes(changes, partners=subscribed)
    notices.tier_changes(changes)
    # Back on the ladder after an exit: the standing exists without a tier.
    _update_standings(
        run, ladder_id, [Move.ENTRY], "tier_id = r.computed_tier_id, since = %s", [run.as_of],
        where="s.tier_id IS NULL",
    )  # fmt: skip
    _insert_entries(run, ladder_id)
    _update_standings(
        run, ladder_id, [Move.UP], f"tier_id = r.computed_tier_id, since = %s, {CLEARED}", [run.as_of],
        where=ON_READ_TIER,
    )  # fmt: skip
    # Back on track: a pending drop is cancelled. Standings with nothing to change are left alone.
    _update_standings(
        run, ladder_id, [Move.SAME], CLEARED, [],
        where=f"{ON_READ_TIER} AND (s.grandfathered_until IS NOT NULL OR s.exit_candidate <> r.exit_candidate)",
    )  # fmt: skip
    # A drop already pending keeps its first grandfathering date: running twice changes nothing.
    _update_standings(
        run,
        ladder_id,
        [Move.DOWN, Move.EXIT],
        "grandfathered_until = COALESCE(s.grandfathered_until, %s), pending_since = COALESCE(s.pending_since, %s),"
        " pending_run_id = COALESCE(s.pending_run_id, %s), pending_tier_id = r.computed_tier_id",
        [run.as_of + GRANDFATHERING, run.as_of, run.pk],
        where=f"{ON_READ_TIER} AND (s.grandfathered_until IS NULL"
        " OR s.pending_tier_id IS DISTINCT FROM r.computed_tier_id OR s.exit_candidate <> r.exit_candidate)",
    )
    # The drops this run marked pending (one already pending keeps its first run) are told once.
    marked = list(
        Standing.objects.filter(ladder_id=ladder_id, pending_run_id=run.pk)
        .select_related("ladder__motion", "tier", "pending_tier")
        .order_by("pk")
    )
    webhooks.publish_pending_drops([standing for standing in marked if standing.partner_id in subscribed])
    notices.pending_drops(run, marked)


def _update_standings(
    run: RetierRun,
    ladder_id: int,
    moves: Sequence[str],
    assignments: str,
    params: Sequence[dt.date | int],
    *,
    where: str,
) -> None:
    """UPDATE, in one statement, the standings `where` holds among those the run's results of `moves` name."""
    marks = ", ".join(["%s"] * len(moves))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {quoted_table(Standing)} AS s
            SET {assignments}, exit_candidate = r.exit_candidate, updated_at = %s
            FROM {quoted_table(RetierResult)} AS r
            WHERE r.run_id = %s AND r.ladder_id = %s AND r.move IN ({marks})
              AND s.partner_id = r.partner_id AND s.ladder_id = r.ladder_id AND {where}
            """,  # noqa: S608 (table names come from the models; values are parameters)
            [*params, timezone.now(), run.pk, ladder_id, *moves],
        )


def quoted_table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _insert_changes(run: RetierRun, ladder_id: int, *, by: User | None, wording: ResultWording) -> list[webhooks.Move]:
    """Record entries and upgrades as history (before the standings move), each with its reason in words;
    return them."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT r.partner_id, r.move, r.current_tier_id, r.computed_tier_id, r."values", r.gate_passed, r.deciding
            FROM {quoted_table(RetierResult)} r
            LEFT JOIN {quoted_table(Standing)} s ON s.partner_id = r.partner_id AND s.ladder_id = r.ladder_id
            WHERE r.run_id = %s AND r.ladder_id = %s
              AND ((r.move = %s AND s.tier_id IS NULL) OR (r.move = %s AND s.tier_id = r.current_tier_id))
            """,  # noqa: S608 (table names come from the models; values are parameters)
            [run.pk, ladder_id, Move.ENTRY, Move.UP],
        )
        found = cursor.fetchall()
    kinds = {Move.ENTRY: TierChange.Kind.ENTRY, Move.UP: TierChange.Kind.UPGRADE}
    now, recorded_by = timezone.now(), by.pk if by else None
    rows = []
    for partner_id, move, current, computed, values, gate, deciding in found:
        values = json.loads(values) if isinstance(values, str) else values  # raw SQL: JSON arrives as text
        result = RetierResult(
            ladder_id=ladder_id, current_tier_id=current, computed_tier_id=computed, values=values,
            gate_passed=gate, deciding=deciding,
        )  # fmt: skip
        reason = wording.reason(result)
        rows.append(
            (partner_id, ladder_id, kinds[move], current, computed, run.pk, reason, run.as_of, now, recorded_by)
        )
    columns = [
        "partner", "ladder", "kind", "from_tier", "to_tier", "run", "reason", "effective_on", "recorded_at", "recorded_by",
    ]  # fmt: skip
    insert_returning(TierChange, columns, rows)
    return [webhooks.Move(row[0], row[1], row[2], row[3], row[4], row[6], row[7]) for row in rows]


def _insert_entries(run: RetierRun, ladder_id: int) -> None:
    """Create the standings of partners who join the ladder, in one INSERT … SELECT."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {quoted_table(Standing)} (partner_id, ladder_id, tier_id, since, exit_candidate, updated_at)
            SELECT r.partner_id, r.ladder_id, r.computed_tier_id, %s, r.exit_candidate, %s
            FROM {quoted_table(RetierResult)} r
            WHERE r.run_id = %s AND r.ladder_id = %s AND r.move = %s
            ON CONFLICT (partner_id, ladder_id) DO NOTHING
            """,  # noqa: S608 (table names come from the models; values are parameters)
            [run.as_of, timezone.now(), run.pk, ladder_id, Move.ENTRY],
        )
