"""Staff chat alerts: P1/P2 escalations and SLA breaches posted to the rooms that asked for them.

Alerts are rows written in the transaction of the escalation or breach (so a rolled-back sweep
posts nothing, and a committed one is never lost), then posted by the `support.tasks.post_chat_alerts`
task: nudged on commit, and swept on the beat for retries. One message per channel and thing
reported (a unique key), so a repeated call changes nothing.

The message is the ticket, its partner, its next deadline and who is paged, with a link, in the
shape Slack's incoming webhooks take (`text` and `attachments`; Mattermost and Rocket.Chat accept
the same) or as an Adaptive Card for a Microsoft Teams Workflows webhook.
"""

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from partnerportal import webhooks as transport
from support.models import ChatAlert, ChatChannel, Escalation, Ticket

State = ChatAlert.State
# A page that arrives hours late helps nobody: fewer tries than the partners' webhooks (≈ 2.5 hours).
MAX_ATTEMPTS = 5
COLOURS = {"P1": "#b42318", "P2": "#c4320a", "P3": "#b54708", "P4": "#475467"}
TARGET_WORDS = {"first_response": "first response", "resolution": "resolution", "update": "status update"}


@dataclass(frozen=True)
class Message:
    """What an alert says, before it is shaped for a flavour of chat."""

    headline: str
    ticket: str
    partner: str
    severity: str
    facts: list[tuple[str, str]]
    link: str

    @property
    def text(self) -> str:
        facts = " · ".join(f"{name}: {value}" for name, value in self.facts)
        return f"{self.headline}\n{self.ticket} ({self.partner})\n{facts}\n{self.link}"


def slack_payload(message: Message) -> dict[str, Any]:
    """Slack incoming webhook (also Mattermost and Rocket.Chat): text, and one attachment with fields."""
    return {
        "text": f"{message.headline}: <{message.link}|{message.ticket}>",
        "attachments": [
            {
                "fallback": message.text,
                "color": COLOURS.get(message.severity, "#475467"),
                "title": message.ticket,
                "title_link": message.link,
                "text": message.partner,
                "fields": [{"title": name, "value": value, "short": True} for name, value in message.facts],
            }
        ],
    }


def teams_payload(message: Message) -> dict[str, Any]:
    """Microsoft Teams Workflows webhook: a message carrying one Adaptive Card."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": message.headline, "weight": "Bolder", "size": "Medium", "wrap": True},
            {"type": "TextBlock", "text": f"{message.ticket} ({message.partner})", "wrap": True},
            {"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in message.facts]},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open the ticket", "url": message.link}],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


PAYLOADS = {ChatChannel.Flavour.SLACK: slack_payload, ChatChannel.Flavour.TEAMS: teams_payload}


def _when(at: datetime | None) -> str:
    """Return a deadline in UTC: the rooms are read by people in every time zone (follow the sun)."""
    return "—" if at is None else f"{at.astimezone(UTC):%d %b %H:%M} UTC"


def _next_deadline(ticket: Ticket) -> tuple[str, str]:
    if ticket.first_response_at is None and ticket.first_response_due:
        return "First response due", _when(ticket.first_response_due)
    if ticket.resolution_due:
        return "Resolution due", _when(ticket.resolution_due)
    return "Deadline", "paused (waiting on the partner)" if ticket.is_open else "none (resolved)"


def _ticket_words(ticket: Ticket) -> tuple[str, str]:
    return f"#{ticket.pk} {ticket.title}", f"{settings.PORTAL_URL}{ticket.get_absolute_url()}"


def _channels(*, on: str) -> list[ChatChannel]:
    return list(ChatChannel.objects.filter(is_active=True, **{on: True}).prefetch_related("levels", "schedules"))


def _listens(channel: ChatChannel, ticket: Ticket, rank: int) -> bool:
    """Return True if `channel` wants news of `ticket` at escalation level `rank` (its terms' level)."""
    if ticket.severity not in channel.severities:
        return False
    levels = [(level.policy_id, level.rank) for level in channel.levels.all()]
    schedules = {schedule.pk for schedule in channel.schedules.all()}
    if not levels and not schedules:
        return True
    terms = ticket.escalation_terms or {}
    level = next((level for level in terms.get("levels", []) if level["rank"] == rank), None)
    return (terms.get("policy"), rank) in levels or bool(level and level.get("schedule") in schedules)


def alert_escalations(escalated: Iterable[tuple[int, int]], *, now: datetime) -> int:
    """Queue an alert per (ticket id, level) just written, for each channel listening; return how many.

    Both ways of escalating call it (`escalate` and the sweep's set-based statement): it reads the
    escalations back, so what is posted is what was recorded, whoever wrote it.
    """
    escalated = set(escalated)
    channels = _channels(on="on_escalation") if escalated else []
    if not channels:
        return 0
    tickets = Ticket.objects.select_related("partner").in_bulk({pk for pk, _ in escalated})
    written = (
        Escalation.objects.filter(ticket__in=tickets, level__in={rank for _, rank in escalated})
        .select_related("assignee")
        .order_by("ticket_id", "level")
    )
    alerts = []
    for escalation in written:
        ticket = tickets[escalation.ticket_id]
        if (ticket.pk, escalation.level) not in escalated:
            continue
        listening = [channel for channel in channels if _listens(channel, ticket, escalation.level)]
        if not listening:
            continue
        name, link = _ticket_words(ticket)
        paged = escalation.assignee.get_full_name() if escalation.assignee else "nobody (no one on call)"
        message = Message(
            headline=f"{ticket.severity} escalated to {escalation.level_name}"
            if escalation.cause != Escalation.Cause.ENTRY
            else f"New {ticket.severity} ticket, taken up by {escalation.level_name}",
            ticket=name,
            partner=ticket.partner.name,
            severity=ticket.severity,
            facts=[
                ("Paged" if not escalation.informed_only else "Informed", f"{paged} ({escalation.routed_via})"),
                _next_deadline(ticket),
                ("Why", escalation.reason[:200]),
            ],
            link=link,
        )
        key = f"escalation:{ticket.pk}:{escalation.level}"
        alerts += [_alert(channel, ticket, ChatAlert.Kind.ESCALATION, key, message, now) for channel in listening]
    return _queue(alerts)


def alert_breaches(breached: Iterable[tuple[int, str]], *, now: datetime) -> int:
    """Queue an alert per (ticket id, SLA target) just breached, for each channel listening."""
    breached = list(breached)
    channels = _channels(on="on_breach") if breached else []
    if not channels:
        return 0
    tickets = Ticket.objects.select_related("partner", "assignee").in_bulk({pk for pk, _ in breached})
    alerts = []
    for ticket_id, target in breached:
        ticket = tickets.get(ticket_id)
        if ticket is None:
            continue
        listening = [channel for channel in channels if _listens(channel, ticket, ticket.escalation_level)]
        if not listening:
            continue
        name, link = _ticket_words(ticket)
        missed = {
            "first_response": ticket.first_response_due,
            "resolution": ticket.resolution_due,
            "update": ticket.update_due,
        }.get(target)
        message = Message(
            headline=f"{ticket.severity} missed its {TARGET_WORDS.get(target, target)} deadline",
            ticket=name,
            partner=ticket.partner.name,
            severity=ticket.severity,
            facts=[
                ("Was due", _when(missed)),
                ("Assigned to", ticket.assignee.get_full_name() if ticket.assignee else "nobody"),
                ("Level", str(ticket.escalation_level or "—")),
            ],
            link=link,
        )
        # A missed status update recurs once per interval: each is its own alert.
        key = f"breach:{ticket.pk}:{target}" + (f":{now:%Y%m%dT%H%M%S}" if target == "update" else "")
        alerts += [_alert(channel, ticket, ChatAlert.Kind.BREACH, key, message, now) for channel in listening]
    return _queue(alerts)


def _alert(
    channel: ChatChannel, ticket: Ticket | None, kind: str, key: str, message: Message, now: datetime
) -> ChatAlert:
    return ChatAlert(
        channel=channel,
        ticket=ticket,
        kind=kind,
        key=key,
        text=message.text,
        payload=PAYLOADS[ChatChannel.Flavour(channel.flavour)](message),
        created_at=now,
        next_attempt_at=timezone.now(),  # the worker's clock: due at once, whatever moment the sweep was told
    )


def _queue(alerts: list[ChatAlert]) -> int:
    if not alerts:
        return 0
    ChatAlert.objects.bulk_create(alerts, ignore_conflicts=True)  # (channel, key) once: a repeat is a no-op
    transaction.on_commit(nudge_poster, robust=True)
    return len(alerts)


def nudge_poster() -> None:
    from support.tasks import post_chat_alerts_task  # the task module imports this one

    post_chat_alerts_task.delay()


def test_message(channel: ChatChannel, *, by_name: str, now: datetime | None = None) -> ChatAlert:
    """Post a test message to `channel` now and return the alert with what the room answered."""
    now = now or timezone.now()
    message = Message(
        headline="Test message from Partner Portal",
        ticket="No ticket: this checks the room's webhook",
        partner=f"sent by {by_name}",
        severity="P4",
        facts=[("Posts", ", ".join(channel.severities) + " escalations and breaches")],
        link=f"{settings.PORTAL_URL}/queue/",
    )
    alert = _alert(channel, None, ChatAlert.Kind.TEST, f"test:{time.time_ns()}", message, now)
    alert.next_attempt_at = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)  # this request holds it
    alert.save()
    _post([alert], now)
    alert.refresh_from_db()
    return alert


def post_due(*, now: datetime | None = None, limit: int | None = None) -> int:
    """Post one batch of due alerts; return how many were tried.

    Channel by channel, in order: after an attempt that got no answer the rest of that channel's
    alerts wait for its retry, and nothing is posted after half the lease from the claim, so what
    this worker holds is settled before another may take it.
    """
    now = now or timezone.now()
    stop_at = time.monotonic() + settings.WEBHOOK_LEASE_SECONDS / 2
    pending = ChatAlert.objects.filter(state=State.PENDING, channel__is_active=True)
    ids = transport.claim_due(
        pending, now=now, limit=limit or settings.WEBHOOK_BATCH_SIZE, lease_seconds=settings.WEBHOOK_LEASE_SECONDS
    )
    alerts = list(ChatAlert.objects.filter(pk__in=ids).select_related("channel").order_by("channel_id", "pk"))
    return _post(alerts, now, stop_at=stop_at)


def post_until_idle(*, seconds: float = 50.0) -> int:
    return transport.until_idle(post_due, seconds=seconds)


def _post(alerts: Sequence[ChatAlert], now: datetime, *, stop_at: float | None = None) -> int:
    """Post `alerts` (in channel order), one connection per channel; return how many were tried."""
    stop_at = stop_at if stop_at is not None else time.monotonic() + settings.WEBHOOK_LEASE_SECONDS / 2
    tried = 0
    for _, of_channel in groupby(alerts, key=lambda alert: alert.channel_id):
        tried += _post_to_channel(list(of_channel), now, stop_at)
    return tried


def _post_to_channel(alerts: list[ChatAlert], now: datetime, stop_at: float) -> int:
    # After an attempt that got no answer, the channel's other alerts wait for its retry.
    allowed = settings.WEBHOOK_ALLOWED_HOSTS
    channel = alerts[0].channel
    headers = {"content-type": "application/json", "user-agent": transport.USER_AGENT}
    tried = 0
    retry_at: datetime | None = None
    with transport.session_for(channel.url, allowed_hosts=allowed) as session:
        for alert in alerts:
            held = ChatAlert.objects.filter(pk=alert.pk, state=State.PENDING, next_attempt_at=alert.next_attempt_at)
            if retry_at is not None or time.monotonic() > stop_at:
                held.update(next_attempt_at=retry_at or now)
                continue
            outcome = transport.post(
                session,
                channel.url,
                json.dumps(alert.payload, ensure_ascii=False),
                dict(headers),
                allowed_hosts=allowed,
                timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            )
            tried += 1
            attempts = alert.attempts + 1
            update: dict[str, Any] = {
                "attempts": attempts,
                "last_status": outcome.status,
                "last_error": outcome.error[:300],
            }
            if outcome.delivered:
                update |= {"state": State.SENT, "sent_at": timezone.now(), "next_attempt_at": None}
            else:
                wait = transport.retry_delay(attempts) if attempts < MAX_ATTEMPTS else None
                update |= (
                    {"state": State.FAILED, "next_attempt_at": None}
                    if wait is None
                    else {"next_attempt_at": now + wait}
                )
                if outcome.status is None and wait is not None:
                    retry_at = now + wait
            held.update(**update)  # guarded by the lease: a worker that took over after it is not overwritten
    return tried
