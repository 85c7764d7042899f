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
from support.escalation import chat
from support.escalation.routing import Router
from support.escalation.services import (
    ESCALATION_EVENT,
    ESCALATION_MAIL,
    ESCALATION_SUBJECT,
    SUBJECT_LENGTH,
    EscalationOrder,
    LevelRoute,
    escalate,
    level_routes,
    sql_text,
)
from support.models import Notification, SlaTarget, SupportPlan, Ticket, TicketEvent
from support.rules import escalation, sla, ticket_states
from support.tickets.clock import CalendarCache, support_opening
from support.tickets.webhooks import escalation_news, publish_for_tickets, sla_news

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
    routing = SweepRouting(router)  # on PostgreSQL: the routes of the terms met so far, for every batch
    while True:
        batch = _sweep_batch(now, batch_size, router, routing=routing)
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
def _sweep_batch(
    now: datetime,
    batch_size: int,
    router: Router,
    *,
    in_sql: bool | None = None,
    routing: "SweepRouting | None" = None,
) -> SweepResult:
    # One SQL statement on PostgreSQL, the Python rules elsewhere; `in_sql` picks one (tests run both).
    if connection.vendor == "postgresql" if in_sql is None else in_sql:
        return _sweep_batch_in_sql(now, batch_size, routing or SweepRouting(router))
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
    _post_breaches(alerts, now)
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


# On PostgreSQL one statement per batch does it all: claims the due tickets, records their crossed
# thresholds, performs their due escalations and moves every cursor. The same rules as
# sla.thresholds, sla.next_check, escalation.due, `escalate` and `_escalate_and_move`, in SQL; both
# paths run the same tests (SQLite in `make test`, PostgreSQL in CI) and
# tests/support/test_sweep_python_and_sql.py holds them to each other on the same tickets.
#
# Routing depends on the terms, the level and the instant, not on the ticket: Python routes each
# level of each set of terms once per sweep (`SweepRouting`), and the statement joins the tickets to
# those routes (`routes`), and P3/P4 mail to the next support opening of the plan (`openings`). A
# ticket due for escalation under terms (or a plan) the sweep has not routed yet is left as it was
# (`unrouted`): Python routes its terms and the statement runs again for those tickets alone.
#
# - `due`: the steps whose instant has come, each with the working level before it. A step goes
#   ahead when its level is above every level an earlier step assigned (or the ticket's own): an
#   earlier step that was itself skipped was at or below that level already, so the running
#   maximum over all earlier assigning steps is the same as over the performed ones.
# - `chosen`: one step per level, the last in step order (the order of Step: instant, level,
#   cause, reason; strings compared by code point as in Python, hence COLLATE "C").
# - `escalations`: once per ticket and level (ON CONFLICT DO NOTHING); only those written get their
#   event, mail and move.
# - `moved`: assignee, level, cursor and steps to come, in one UPDATE.
_OPEN = "c.status NOT IN ({})".format(", ".join(f"'{status}'" for status in ticket_states.FINISHED_STATUSES))
_UNANSWERED = f"{_OPEN} AND c.first_response_at IS NULL"
_CADENCE_KEY = """to_char(c.update_due AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')"""
# The steps kept are those still to come, as in Python: a level reached already makes its step moot.
_STEPS_TO_COME = """COALESCE((
    SELECT jsonb_agg(s.step ORDER BY s.n) FROM jsonb_array_elements(c.escalation_steps) WITH ORDINALITY AS s(step, n)
    WHERE (s.step->>0)::timestamptz > %(now)s AND (s.step->>1)::int > c.escalation_level
), '[]'::jsonb)"""
_STEP_DUE = "EXISTS (SELECT 1 FROM jsonb_array_elements(t.escalation_steps) s WHERE (s->>0)::timestamptz <= %(now)s)"
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
SWEEP_BATCH_SQL = f"""
WITH routes AS (
    SELECT * FROM unnest(%(levels)s::text[], %(ranks)s::int[], %(names)s::text[], %(assigns)s::boolean[],
                         %(people)s::bigint[], %(vias)s::text[], %(whos)s::text[], %(verbs)s::text[], %(whats)s::text[])
        AS r(levels, rank, name, assigns, person_id, via, who, verb, what)
),
openings AS (
    SELECT * FROM unnest(%(plans)s::bigint[], %(openings)s::timestamptz[]) AS o(plan_id, at)
),
locked AS MATERIALIZED (
    SELECT t.id, t.next_sla_check_at AS cursor, t.escalation_steps, t.escalation_level, t.assignee_id, t.title,
           t.severity, t.plan_id, t.partner_id, t.status, t.first_response_at, t.first_response_warn_at,
           t.first_response_due, t.resolution_warn_at, t.resolution_due, t.update_warn_at, t.update_due,
           {_STEP_DUE} AS step_due,
           CASE WHEN {_STEP_DUE} THEN (t.escalation_terms->'levels')::text END AS levels
    FROM support_ticket t
    WHERE t.next_sla_check_at <= %(now)s AND (%(only)s::bigint[] IS NULL OR t.id = ANY(%(only)s::bigint[]))
    ORDER BY t.next_sla_check_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
),
claimed AS MATERIALIZED (
    SELECT c.*, c.levels IS NOT NULL AND (
        c.levels <> ALL(%(known)s::text[])
        OR (c.severity NOT IN ({_URGENT}) AND c.plan_id <> ALL(%(plans)s::bigint[]))
    ) AS unrouted
    FROM locked c
),
points AS MATERIALIZED (
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
),
written AS (
    INSERT INTO support_ticketevent (ticket_id, kind, sla_target, to_value, at, public, by_staff, body, from_value)
    SELECT p.id, p.kind, p.target, p.key, p.at, false, false, '', ''
    FROM points p JOIN claimed c ON c.id = p.id
    WHERE p.at >= c.cursor AND p.at <= %(now)s
    ON CONFLICT DO NOTHING
    RETURNING ticket_id, kind, sla_target
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
        WHERE c.step_due AND NOT c.unrouted
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
escalations AS (
    INSERT INTO support_escalation (ticket_id, level, level_name, cause, reason, at, by_id, assignee_id, routed_via,
                                    informed_only)
    SELECT s.id, s.rank, s.name, s.cause, s.reason, %(now)s, NULL, s.person_id, s.via, NOT s.assigns
    FROM chosen s ORDER BY s.id, s.rank
    ON CONFLICT (ticket_id, level) DO NOTHING
    RETURNING ticket_id, level
),
done AS MATERIALIZED (
    SELECT s.*, c.severity, c.title, c.plan_id, c.partner_id
    FROM chosen s JOIN escalations w ON w.ticket_id = s.id AND w.level = s.rank JOIN claimed c ON c.id = s.id
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
    WHERE NOT c.unrouted
),
upcoming AS (
    SELECT u.id, min(u.at) AS at FROM (
        SELECT p.id, p.at FROM points p WHERE p.at > %(now)s
        UNION ALL
        SELECT c.id, (s->>0)::timestamptz FROM reached c, jsonb_array_elements(c.escalation_steps) s
        WHERE (s->>0)::timestamptz > %(now)s AND (s->>1)::int > c.escalation_level
    ) AS u
    GROUP BY u.id
),
moved AS (
    UPDATE support_ticket t
    SET assignee_id = COALESCE(c.person_id, t.assignee_id), escalation_level = c.escalation_level,
        next_sla_check_at = u.at, escalation_steps = {_STEPS_TO_COME}
    FROM reached c LEFT JOIN upcoming u ON u.id = c.id
    WHERE t.id = c.id
)
SELECT 'alert', w.ticket_id, c.assignee_id, c.title, w.kind, w.sla_target FROM written w JOIN claimed c ON c.id = w.ticket_id
UNION ALL SELECT 'unrouted', c.id, NULL, NULL, NULL, NULL FROM claimed c WHERE c.unrouted
UNION ALL (
    SELECT DISTINCT 'terms', NULL::bigint, CASE WHEN c.severity IN ({_URGENT}) THEN NULL ELSE c.plan_id END, c.levels,
           NULL, NULL
    FROM claimed c WHERE c.unrouted
)
UNION ALL SELECT 'escalated', d.id, d.rank, d.name, d.cause, NULL FROM done d
UNION ALL SELECT 'checked', count(*), NULL, NULL, NULL, NULL FROM claimed
"""  # noqa: S608 (fixed text; values are parameters)
_URL_SENTINEL = 9876543210


class SweepRouting:
    """The routes and support hours the batch statement joins, gathered once per sweep as it meets new terms and plans."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.routes: list[LevelRoute] = []
        self.openings: dict[int, datetime] = {}  # plan id -> when its P3/P4 mail may go out
        self._terms: set[str] = set()
        self._calendars: CalendarCache = {}
        head, tail = (settings.PORTAL_URL + reverse("ticket_detail", args=[_URL_SENTINEL])).split(str(_URL_SENTINEL))
        self._url = {"url_head": head, "url_tail": tail}

    def learn(self, terms: set[str], plans: set[int]) -> None:
        """Route every level of the sets of terms not routed yet; find the next support opening of new plans."""
        new = sorted(terms - self._terms)
        self.routes += level_routes(new, self.router)
        self._terms.update(new)
        for plan in SupportPlan.objects.select_related("calendar").filter(pk__in=plans - self.openings.keys()):
            self.openings[plan.pk] = support_opening(plan, self.router.now, self._calendars)

    def parameters(self) -> dict[str, Any]:
        return {
            "levels": [route.levels for route in self.routes],
            "ranks": [route.rank for route in self.routes],
            "names": [route.name for route in self.routes],
            "assigns": [route.assigns for route in self.routes],
            "people": [route.person_id for route in self.routes],
            "vias": [route.via for route in self.routes],
            "whos": [route.who for route in self.routes],
            "verbs": [route.verb for route in self.routes],
            "whats": [route.what for route in self.routes],
            "known": sorted(self._terms),  # routed, even when they have no levels to route
            "plans": list(self.openings),
            "openings": list(self.openings.values()),
            **self._url,
        }


def _sweep_batch_in_sql(now: datetime, batch_size: int, routing: SweepRouting) -> SweepResult:
    rows = _run_batch_statement(now, batch_size, routing, only=None)
    checked = next(count for what, count, *_ in rows if what == "checked")
    unrouted = [ticket_id for what, ticket_id, *_ in rows if what == "unrouted"]
    if unrouted:  # still claimed (locked) and due: route their terms, then the same statement for them alone
        terms = [(plan, levels) for what, _, plan, levels, *_ in rows if what == "terms"]
        routing.learn({levels for _, levels in terms}, {plan for plan, _ in terms if plan is not None})
        again = _run_batch_statement(now, batch_size, routing, only=unrouted)
        assert not any(what == "unrouted" for what, *_ in again), "routed terms came back unrouted"
        rows += [row for row in again if row[0] == "escalated"]
    alerts = [
        (ticket_id, assignee, title, kind, target)
        for what, ticket_id, assignee, title, kind, target in rows
        if what == "alert"
    ]
    escalated = [(ticket_id, name, cause) for what, ticket_id, _, name, cause, _ in rows if what == "escalated"]
    _queue_sla_alerts(alerts, now)
    publish_for_tickets(escalation_news(escalated))
    chat.alert_escalations([(ticket_id, rank) for what, ticket_id, rank, *_ in rows if what == "escalated"], now=now)
    _post_breaches(alerts, now)
    return SweepResult(checked=checked, recorded=len(alerts), escalated=len(escalated), events=alerts)


def _run_batch_statement(
    now: datetime, batch_size: int, routing: SweepRouting, *, only: list[int] | None
) -> list[tuple[Any, ...]]:
    parameters = {**routing.parameters(), "now": now, "limit": batch_size, "only": only, "created": timezone.now()}
    # The audit trail records the escalations' moves of assignee and level as "escalate"; the
    # cursor columns are outside the trail, so moving them alone writes no history.
    with audit_context(action="escalate", actor=None), connection.cursor() as cursor:
        cursor.execute(SWEEP_BATCH_SQL, parameters)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows


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
    time of the ticket's plan, so they fall in support hours already. The partners' webhooks hear
    of them too.
    """
    publish_for_tickets(sla_news((ticket_id, kind, target) for ticket_id, _, _, kind, target in alerts))
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


def _post_breaches(alerts: list[Alert], now: datetime) -> None:
    """Tell the staff chat rooms of the breaches just recorded: after the batch's escalations, on both
    paths, so a room listening to a level hears of a breach at the level the ticket reached."""
    breaches = [(ticket_id, target) for ticket_id, _, _, kind, target in alerts if kind == TicketEvent.Kind.SLA_BREACH]
    chat.alert_breaches(breaches, now=now)


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
