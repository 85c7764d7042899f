"""The SLA sweep: record warnings and breaches as tickets cross them, perform due escalations, exactly once.

Each ticket stores `next_sla_check_at`, the earliest threshold or escalation step still to come
(partial index on non-null values). The sweep claims due tickets in batches with `SELECT … FOR
UPDATE SKIP LOCKED`, so two sweeps running at once split the work instead of doubling it. In one
transaction per batch it writes the crossed thresholds as timeline events and the due escalations
(unique constraints make a second write of the same breach or level a no-op, and INSERT …
RETURNING tells which rows are new), queues the mail for what is new, and moves each ticket's
cursor to what comes next. A sweep killed halfway loses nothing: its open batch rolls back and the
next sweep takes it. Queued mail goes out at the end of each sweep (support hours permitting).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import connection, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from partnerportal.audit import audit_context
from partnerportal.bulk import insert_returning, update_from_values
from partnerportal.health import record_heartbeat
from programs.models import Partner
from support.escalation.routing import Router
from support.escalation.services import (
    ESCALATION_EVENT,
    ESCALATION_MAIL,
    ESCALATION_SUBJECT,
    SUBJECT_LENGTH,
    EscalationOrder,
    escalate,
    level_routes,
    sql_text,
)
from support.models import Notification, SlaTarget, SupportPlan, Ticket, TicketEvent
from support.rules import escalation, sla, ticket_states
from support.tickets.clock import CalendarCache, support_opening

SWEEP = "sla_sweep"
COLUMNS = (
    "id",
    "status",
    "first_response_at",
    "first_response_warn_at",
    "first_response_due",
    "resolution_warn_at",
    "resolution_due",
    "update_warn_at",
    "update_due",
    "next_sla_check_at",
    "assignee_id",
    "title",
    "escalation_steps",
    "escalation_level",
)
NOTIFICATIONS_PER_BATCH = 500
# A threshold just crossed, for its assignee's mail: (ticket id, assignee id, title, event kind, target).
Alert = tuple[int, int | None, str, str, str]


@dataclass
class SweepResult:
    checked: int = 0
    recorded: int = 0
    escalated: int = 0
    mailed: int = 0
    events: list[Alert] = field(default_factory=list)


def database_now() -> datetime:
    """Return the database server's clock: all workers then agree on what is due."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT now()")
            row = cursor.fetchone()
            assert row is not None  # SELECT now() returns one row
            return cast(datetime, row[0])
        cursor.execute("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")
        row = cursor.fetchone()
        assert row is not None  # SELECT strftime(...) returns one row
        moment = parse_datetime(row[0])
        assert moment is not None  # SQLite's strftime gives a valid datetime
        return moment.replace(tzinfo=UTC)


def sweep_slas(*, batch_size: int = 2000, now: datetime | None = None, notify: bool = True) -> SweepResult:
    """Record every warning and breach due by now and perform due escalations; safe to run in several processes."""
    now = now or database_now()
    result = SweepResult()
    router = Router(now)
    while True:
        batch = _sweep_batch(now, batch_size, router)
        result.checked += batch.checked
        result.recorded += batch.recorded
        result.escalated += batch.escalated
        if batch.checked < batch_size:
            break
    if notify:
        result.mailed = send_due_notifications(now)
    record_heartbeat(SWEEP)
    return result


class ClaimedTicket(NamedTuple):
    """The columns the sweep reads, light enough for thousands of rows per batch."""

    id: int
    status: str
    first_response_at: datetime | None
    first_response_warn_at: datetime | None
    first_response_due: datetime | None
    resolution_warn_at: datetime | None
    resolution_due: datetime | None
    update_warn_at: datetime | None
    update_due: datetime | None
    next_sla_check_at: datetime
    assignee_id: int | None
    title: str
    escalation_steps: list[list[Any]]
    escalation_level: int

    @property
    def pk(self) -> int:
        return self.id

    @property
    def is_open(self) -> bool:
        return ticket_states.is_open(self.status)

    def steps(self) -> list[escalation.Step]:
        return [escalation.Step.from_json(raw) for raw in self.escalation_steps or []]


_EVENT_COLUMNS = ["ticket", "kind", "sla_target", "to_value", "at", "public", "by_staff", "body", "from_value"]


@transaction.atomic
def _sweep_batch(now: datetime, batch_size: int, router: Router, *, in_sql: bool | None = None) -> SweepResult:
    # One SQL statement on PostgreSQL, the Python rules elsewhere; `in_sql` picks one (tests run both).
    if connection.vendor == "postgresql" if in_sql is None else in_sql:
        return _sweep_batch_in_sql(now, batch_size, router)
    tickets = _claimed(Ticket.objects.filter(next_sla_check_at__lte=now), batch_size)
    crossed = [
        (ticket, instant, kind, target, key)
        for ticket in tickets
        for instant, kind, target, key in sla.thresholds(ticket)
        if ticket.next_sla_check_at <= instant <= now
    ]
    # A repeat of a recorded threshold is a no-op (unique constraint); RETURNING names the new ones.
    written = set(
        insert_returning(
            TicketEvent,
            _EVENT_COLUMNS,
            [(t.id, kind, target, key, at, False, False, "", "") for t, at, kind, target, key in crossed],
            conflict="DO NOTHING",
            returning=["ticket", "kind", "sla_target", "to_value"],
        )
    )
    alerts = [
        (t.id, t.assignee_id, t.title, kind, target)
        for t, _, kind, target, key in crossed
        if (t.id, kind, target, key) in written
    ]
    _queue_sla_alerts(alerts, now)
    escalated = _escalate_and_move(tickets, now, router)
    return SweepResult(checked=len(tickets), recorded=len(alerts), escalated=escalated, events=alerts)


def _claimed(queryset: QuerySet[Ticket], limit: int | None = None) -> list[ClaimedTicket]:
    rows = queryset.order_by("next_sla_check_at").select_for_update(skip_locked=True).values_list(*COLUMNS)
    return [ClaimedTicket(*row) for row in (rows[:limit] if limit else rows)]


def _escalate_and_move(tickets: list[ClaimedTicket], now: datetime, router: Router) -> int:
    """Perform the claimed tickets' due escalations and move each cursor to what comes next; return how many."""
    steps_of = {ticket.id: ticket.steps() for ticket in tickets if ticket.escalation_steps}
    levels, escalated = _escalate_due(tickets, steps_of, now, router)
    cursors = []
    for ticket in tickets:
        level = levels.get(ticket.id, ticket.escalation_level)
        steps = [step for step in steps_of.get(ticket.id, ()) if step.at > now and step.rank > level]
        upcoming = [instant for instant, *_ in sla.thresholds(ticket) if instant > now]
        upcoming += [step.at for step in steps]
        cursors.append((ticket.id, min(upcoming) if upcoming else None, [step.as_json() for step in steps]))
    update_from_values(Ticket, "pk", ["next_sla_check_at", "escalation_steps"], cursors)
    return escalated


# On PostgreSQL one statement per batch claims the due tickets, records their crossed thresholds
# and moves the cursors of those with no escalation due: the same rules as sla.thresholds and
# sla.next_check, in SQL (both paths run the same tests: SQLite in `make test`, PostgreSQL in CI).
# Tickets with an escalation step due come back to Python (escalating needs routing and mail).
_OPEN = "c.status NOT IN ({})".format(", ".join(f"'{status}'" for status in ticket_states.FINISHED_STATUSES))
_UNANSWERED = f"{_OPEN} AND c.first_response_at IS NULL"
_CADENCE_KEY = """to_char(c.update_due AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')"""
# The steps kept are those still to come, as in Python: a level reached already makes its step moot.
_STEPS_TO_COME = """COALESCE((
    SELECT jsonb_agg(s.step ORDER BY s.n) FROM jsonb_array_elements(c.escalation_steps) WITH ORDINALITY AS s(step, n)
    WHERE (s.step->>0)::timestamptz > %(now)s AND (s.step->>1)::int > c.escalation_level
), '[]'::jsonb)"""
_STEP_DUE = "EXISTS (SELECT 1 FROM jsonb_array_elements(c.escalation_steps) s WHERE (s->>0)::timestamptz <= %(now)s)"
_CLOCK_COLUMNS = """t.status, t.first_response_at, t.first_response_warn_at, t.first_response_due,
           t.resolution_warn_at, t.resolution_due, t.update_warn_at, t.update_due"""
# Every threshold of the tickets of `claimed` (one row each: ticket, kind, target, key, instant), as sla.thresholds.
_POINTS = f"""points AS MATERIALIZED (
    SELECT c.id, 'sla_warning' AS kind, 'first_response' AS target, '' AS key, c.first_response_warn_at AS at
        FROM claimed c WHERE {_UNANSWERED} AND c.first_response_warn_at IS NOT NULL
    UNION ALL SELECT c.id, 'sla_breach', 'first_response', '', c.first_response_due
        FROM claimed c WHERE {_UNANSWERED} AND c.first_response_due IS NOT NULL
    UNION ALL SELECT c.id, 'sla_warning', 'resolution', '', c.resolution_warn_at
        FROM claimed c WHERE {_OPEN} AND c.resolution_due IS NOT NULL AND c.resolution_warn_at IS NOT NULL
    UNION ALL SELECT c.id, 'sla_breach', 'resolution', '', c.resolution_due
        FROM claimed c WHERE {_OPEN} AND c.resolution_due IS NOT NULL
    UNION ALL SELECT c.id, 'sla_warning', 'update', {_CADENCE_KEY}, c.update_warn_at
        FROM claimed c WHERE {_OPEN} AND c.update_due IS NOT NULL AND c.update_warn_at IS NOT NULL
    UNION ALL SELECT c.id, 'sla_breach', 'update', {_CADENCE_KEY}, c.update_due
        FROM claimed c WHERE {_OPEN} AND c.update_due IS NOT NULL
)"""  # noqa: S608 (fixed text)


def _upcoming(steps_of: str) -> str:
    """Return the CTE of each ticket's next instant: its next threshold or step to come (the steps of `steps_of`)."""
    return f"""upcoming AS (
    SELECT u.id, min(u.at) AS at FROM (
        SELECT p.id, p.at FROM points p WHERE p.at > %(now)s
        UNION ALL
        SELECT c.id, (s->>0)::timestamptz FROM {steps_of} c, jsonb_array_elements(c.escalation_steps) s
        WHERE (s->>0)::timestamptz > %(now)s AND (s->>1)::int > c.escalation_level
    ) AS u
    GROUP BY u.id
)"""  # noqa: S608 (fixed text; the source is a CTE name of this module)


SWEEP_BATCH_SQL = f"""
WITH claimed AS MATERIALIZED (
    SELECT t.id, t.next_sla_check_at AS cursor, t.escalation_steps, t.escalation_level, t.assignee_id, t.title,
           {_CLOCK_COLUMNS}
    FROM support_ticket t
    WHERE t.next_sla_check_at <= %(now)s
    ORDER BY t.next_sla_check_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
),
{_POINTS},
written AS (
    INSERT INTO support_ticketevent (ticket_id, kind, sla_target, to_value, at, public, by_staff, body, from_value)
    SELECT p.id, p.kind, p.target, p.key, p.at, false, false, '', ''
    FROM points p JOIN claimed c ON c.id = p.id
    WHERE p.at >= c.cursor AND p.at <= %(now)s
    ON CONFLICT DO NOTHING
    RETURNING ticket_id, kind, sla_target
),
{_upcoming("claimed")},
moved AS (
    UPDATE support_ticket t SET next_sla_check_at = u.at, escalation_steps = {_STEPS_TO_COME}
    FROM claimed c LEFT JOIN upcoming u ON u.id = c.id
    WHERE t.id = c.id AND NOT {_STEP_DUE}
    RETURNING t.id
)
SELECT 'alert', w.ticket_id, c.assignee_id, c.title, w.kind, w.sla_target FROM written w JOIN claimed c ON c.id = w.ticket_id
UNION ALL SELECT 'escalate', c.id, NULL, NULL, NULL, NULL FROM claimed c WHERE {_STEP_DUE}
UNION ALL SELECT 'checked', count(*), NULL, NULL, NULL, NULL FROM claimed
"""  # noqa: S608 (fixed text; values are parameters)


def _sweep_batch_in_sql(now: datetime, batch_size: int, router: Router) -> SweepResult:
    with connection.cursor() as cursor:
        cursor.execute(SWEEP_BATCH_SQL, {"now": now, "limit": batch_size})
        rows = cursor.fetchall()
    alerts = [
        (ticket_id, assignee, title, kind, target)
        for what, ticket_id, assignee, title, kind, target in rows
        if what == "alert"
    ]
    escalating = [ticket_id for what, ticket_id, *_ in rows if what == "escalate"]
    checked = next(count for what, count, *_ in rows if what == "checked")
    _queue_sla_alerts(alerts, now)
    escalated = _escalate_batch_in_sql(escalating, now, router) if escalating else 0
    return SweepResult(checked=checked, recorded=len(alerts), escalated=escalated, events=alerts)


# The due escalations of tickets claimed by the statement above, in one more statement: the same
# rules as `escalation.due`, `escalate` and `_escalate_and_move`, held to them by
# tests/support/test_sweep_python_and_sql.py. Routing depends on the terms, the level and the
# instant, not on the ticket: Python routes each level of each set of terms in the batch once
# (`routes`), and the statement joins the tickets to them.
#
# - `due`: the steps whose instant has come, each with the working level before it. A step goes
#   ahead when its level is above every level an earlier step assigned (or the ticket's own): an
#   earlier step that was itself skipped was at or below that level already, so the running
#   maximum over all earlier assigning steps is the same as over the performed ones.
# - `chosen`: one step per level, the last in step order (the order of Step: instant, level,
#   cause, reason; strings compared by code point as in Python, hence COLLATE "C").
# - `written`: the escalations, once per ticket and level (ON CONFLICT DO NOTHING); only those
#   written get their event, mail and move.
# - `moved`: assignee, level, cursor and steps to come in one UPDATE.
_URGENT = ", ".join(f"'{severity}'" for severity in sorted(escalation.URGENT))
_EVENT_BODY = sql_text(ESCALATION_EVENT, {"reason": "d.reason", "level": "d.name", "verb": "d.verb", "who": "d.who"})
_MAIL_FIELDS = {
    "ticket.pk": "d.id::text",
    "ticket.severity": "d.severity",
    "ticket.title": "d.title",
    "partner": "p.name",
    "level": "d.name",
    "what": "d.what",
    "reason": "d.reason",
    "via": "d.via",
    "url": "%(url_head)s || d.id::text || %(url_tail)s",
}
_SUBJECT = f"left({sql_text(ESCALATION_SUBJECT, _MAIL_FIELDS)}, {SUBJECT_LENGTH})"
_MAIL_BODY = sql_text(ESCALATION_MAIL, _MAIL_FIELDS)
_STEP_ORDER = 's.at, s.rank, s.cause COLLATE "C", s.reason COLLATE "C"'
ESCALATE_BATCH_SQL = f"""
WITH routes AS (
    SELECT * FROM unnest(%(levels)s::text[], %(ranks)s::int[], %(names)s::text[], %(assigns)s::boolean[],
                         %(people)s::bigint[], %(vias)s::text[], %(whos)s::text[], %(verbs)s::text[], %(whats)s::text[])
        AS r(levels, rank, name, assigns, person_id, via, who, verb, what)
),
openings AS (
    SELECT * FROM unnest(%(plans)s::bigint[], %(openings)s::timestamptz[]) AS o(plan_id, at)
),
claimed AS MATERIALIZED (
    SELECT t.id, t.escalation_steps, t.escalation_level, t.severity, t.title, t.plan_id, t.partner_id,
           (t.escalation_terms->'levels')::text AS levels, {_CLOCK_COLUMNS}
    FROM support_ticket t WHERE t.id = ANY(%(ids)s)
),
due AS MATERIALIZED (
    SELECT s.id, s.at, s.rank, s.cause, s.reason, r.rank AS routed, r.name, r.assigns, r.person_id, r.via, r.who,
           r.verb, r.what,
           greatest(s.escalation_level, max(s.rank) FILTER (WHERE r.assigns) OVER (
               PARTITION BY s.id ORDER BY {_STEP_ORDER} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
           )) AS working
    FROM (
        SELECT c.id, c.levels, c.escalation_level, (e.step->>0)::timestamptz AS at, (e.step->>1)::int AS rank,
               e.step->>2 AS cause, e.step->>3 AS reason
        FROM claimed c, jsonb_array_elements(c.escalation_steps) AS e(step)
    ) AS s
    LEFT JOIN routes r ON r.levels = s.levels AND r.rank = s.rank
    WHERE s.at <= %(now)s
),
chosen AS (
    SELECT DISTINCT ON (s.id, s.rank) s.*
    FROM due s
    WHERE s.rank > s.working AND s.routed IS NOT NULL
    ORDER BY s.id, s.rank, s.at DESC, s.cause COLLATE "C" DESC, s.reason COLLATE "C" DESC
),
written AS (
    INSERT INTO support_escalation (ticket_id, level, level_name, cause, reason, at, by_id, assignee_id, routed_via,
                                    informed_only)
    SELECT s.id, s.rank, s.name, s.cause, s.reason, %(now)s, NULL, s.person_id, s.via, NOT s.assigns
    FROM chosen s ORDER BY s.id, s.rank
    ON CONFLICT (ticket_id, level) DO NOTHING
    RETURNING ticket_id, level
),
done AS MATERIALIZED (
    SELECT s.*, c.severity, c.title, c.plan_id, c.partner_id
    FROM chosen s JOIN written w ON w.ticket_id = s.id AND w.level = s.rank JOIN claimed c ON c.id = s.id
),
events AS (
    INSERT INTO support_ticketevent (ticket_id, kind, at, actor_id, by_staff, public, body, from_value, to_value,
                                     sla_target)
    SELECT d.id, 'escalated', %(now)s, NULL, false, true, {_EVENT_BODY}, d.cause, d.name, ''
    FROM done d ORDER BY d.id, d.rank
),
mails AS (
    INSERT INTO support_notification (recipient_id, ticket_id, subject, body, send_after, sent_at, created_at)
    SELECT d.person_id, d.id, {_SUBJECT}, {_MAIL_BODY},
           CASE WHEN d.severity IN ({_URGENT}) THEN %(now)s ELSE o.at END, NULL, %(created)s
    FROM done d JOIN programs_partner p ON p.id = d.partner_id LEFT JOIN openings o ON o.plan_id = d.plan_id
    WHERE d.person_id IS NOT NULL
    ORDER BY d.id, d.rank
),
moves AS (
    SELECT DISTINCT ON (d.id) d.id, d.person_id, d.rank FROM done d
    WHERE d.assigns AND d.person_id IS NOT NULL
    ORDER BY d.id, d.rank DESC
),
reached AS MATERIALIZED (
    SELECT c.id, c.escalation_steps, greatest(c.escalation_level, m.rank) AS escalation_level, m.person_id
    FROM claimed c LEFT JOIN moves m ON m.id = c.id
),
{_POINTS},
{_upcoming("reached")},
moved AS (
    UPDATE support_ticket t
    SET assignee_id = COALESCE(c.person_id, t.assignee_id), escalation_level = c.escalation_level,
        next_sla_check_at = u.at, escalation_steps = {_STEPS_TO_COME}
    FROM reached c LEFT JOIN upcoming u ON u.id = c.id
    WHERE t.id = c.id
)
SELECT count(*) FROM written
"""  # noqa: S608 (fixed text; values are parameters)
_URL_SENTINEL = 9876543210
_TERMS_AND_PLANS = f"""SELECT DISTINCT (escalation_terms->'levels')::text,
    CASE WHEN severity IN ({_URGENT}) THEN NULL ELSE plan_id END FROM support_ticket WHERE id = ANY(%s)"""  # noqa: S608 (fixed text)


def _escalate_batch_in_sql(ticket_ids: list[int], now: datetime, router: Router) -> int:
    """Perform the due escalation steps of claimed (locked) tickets and move them on; return how many escalations."""
    parameters = _escalation_parameters(ticket_ids, now, router)
    with audit_context(action="escalate", actor=None), connection.cursor() as cursor:
        cursor.execute(ESCALATE_BATCH_SQL, parameters)
        row = cursor.fetchone()
    assert row is not None  # SELECT count(*) returns one row
    return cast(int, row[0])


def _escalation_parameters(ticket_ids: list[int], now: datetime, router: Router) -> dict[str, Any]:
    """Return the values of ESCALATE_BATCH_SQL: the routes of the batch's terms and the support hours of its plans."""
    with connection.cursor() as cursor:
        cursor.execute(_TERMS_AND_PLANS, [ticket_ids])
        found = cursor.fetchall()
    routes = level_routes(sorted({levels for levels, _ in found if levels is not None}), router)
    calendars: CalendarCache = {}
    plans = SupportPlan.objects.select_related("calendar").in_bulk({plan for _, plan in found if plan is not None})
    url_head, url_tail = (settings.PORTAL_URL + reverse("ticket_detail", args=[_URL_SENTINEL])).split(
        str(_URL_SENTINEL)
    )
    columns = {
        "levels": [route.levels for route in routes],
        "ranks": [route.rank for route in routes],
        "names": [route.name for route in routes],
        "assigns": [route.assigns for route in routes],
        "people": [route.person_id for route in routes],
        "vias": [route.via for route in routes],
        "whos": [route.who for route in routes],
        "verbs": [route.verb for route in routes],
        "whats": [route.what for route in routes],
        "plans": list(plans),
        "openings": [support_opening(plan, now, calendars) for plan in plans.values()],
    }
    return {**columns, "ids": ticket_ids, "now": now, "created": timezone.now(), "url_head": url_head,
            "url_tail": url_tail}  # fmt: skip


def _escalate_due(
    tickets: list[ClaimedTicket], steps_of: dict[int, list[escalation.Step]], now: datetime, router: Router
) -> tuple[dict[int, int], int]:
    """Perform the due escalation steps of the claimed tickets; return their new working levels and how many."""
    pending = [ticket_id for ticket_id, steps in steps_of.items() if any(step.at <= now for step in steps)]
    if not pending:
        return {}, 0
    # Only what escalating needs: thousands of these may come due in one batch, under a few plans
    # and partners, each read once and shared by its tickets.
    fields = ("id", "title", "severity", "escalation_terms", "escalation_level", "plan_id", "partner_id")
    full = Ticket.objects.only(*fields).in_bulk(pending)
    plans = SupportPlan.objects.select_related("calendar").in_bulk({ticket.plan_id for ticket in full.values()})
    partners = Partner.objects.only("name").in_bulk({ticket.partner_id for ticket in full.values()})
    for ticket in full.values():
        ticket.plan, ticket.partner = plans[ticket.plan_id], partners[ticket.partner_id]
    by_id = {ticket.id: ticket for ticket in tickets}
    due = {
        ticket_id: escalation.due(
            steps_of[ticket_id],
            now,
            escalation.Terms.from_snapshot(full[ticket_id].escalation_terms),
            by_id[ticket_id].escalation_level,
        )
        for ticket_id in pending
    }
    orders = [
        EscalationOrder(full[ticket_id], step.rank, step.cause, step.reason)
        for ticket_id, steps in due.items()
        for step in steps
    ]
    written = escalate(orders, by=None, now=now, router=router)
    return {ticket_id: full[ticket_id].escalation_level for ticket_id in due}, len(written)


def _queue_sla_alerts(alerts: list[Alert], now: datetime) -> None:
    """Queue one mail per assignee listing the thresholds their tickets just crossed.

    `alerts` holds (ticket id, assignee id, title, event kind, target). The thresholds are business
    time of the ticket's plan, so they fall in support hours already.
    """
    by_assignee: defaultdict[int, list[tuple[int, str, str, str]]] = defaultdict(list)
    # Ticket by ticket, each target's warning before its breach: the SQL path returns its rows unordered.
    for ticket_id, assignee_id, title, kind, target in sorted(alerts, key=_alert_order):
        if assignee_id:
            by_assignee[assignee_id].append((ticket_id, title, kind, target))
    Notification.objects.bulk_create(
        Notification(
            recipient_id=assignee_id,
            subject=f"SLA alert: {len(items)} ticket(s) need you",
            body="\n".join(
                f"#{ticket_id} {title}: {TicketEvent.Kind(kind).label} ({target.replace('_', ' ')})"
                for ticket_id, title, kind, target in items
            ),
            send_after=now,
        )
        for assignee_id, items in by_assignee.items()
    )


def _alert_order(alert: tuple[int, int | None, str, str, str]) -> tuple[int, int, bool]:
    ticket_id, _, _, kind, target = alert
    return ticket_id, SlaTarget.values.index(target), kind == TicketEvent.Kind.SLA_BREACH


def send_due_notifications(now: datetime | None = None) -> int:
    """Send queued mail whose time has come; each message once a sweep has committed its sending.

    At-least-once: mail sent by a process that dies before its transaction commits goes out again.
    """
    now = now or timezone.now()
    sent = 0
    while True:
        with transaction.atomic():
            batch = list(
                Notification.objects.due(now)
                .select_related("recipient")
                .select_for_update(skip_locked=True, of=("self",))[:NOTIFICATIONS_PER_BATCH]
            )
            if not batch:
                return sent
            send_mass_mail(
                [(n.subject, n.body, None, [n.recipient.email]) for n in batch if n.recipient.is_active],
                fail_silently=True,
            )
            Notification.objects.filter(pk__in=[n.pk for n in batch]).update(sent_at=timezone.now())
            sent += len(batch)
