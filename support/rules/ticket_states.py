"""The words of a ticket's life, written once: its statuses, its timeline's event kinds, its SLA targets.

Pure Python (no Django): the pure rules compare against these, and the models' choices take their
values from them.
"""

from enum import StrEnum


class Status(StrEnum):
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    WAITING_ON_PARTNER = "waiting_on_partner"
    RESOLVED = "resolved"
    CLOSED = "closed"


# A ticket in one of these is no longer open: its clocks have stopped and nothing escalates it.
FINISHED_STATUSES = (Status.RESOLVED.value, Status.CLOSED.value)


class EventKind(StrEnum):
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    STARTED = "started"
    WAITING = "waiting"
    RESUMED = "resumed"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    COMMENT = "comment"
    NOTE = "note"
    SEVERITY = "severity"
    ASSIGNED = "assigned"
    ATTACHMENT = "attachment"
    AUTO_ACK = "auto_ack"
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    ESCALATED = "escalated"


class SlaTarget(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"
    UPDATE = "update"


def is_open(status: str) -> bool:
    """Return whether a ticket in `status` is still open."""
    return status not in FINISHED_STATUSES
