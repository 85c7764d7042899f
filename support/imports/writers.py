"""Writing source records as our partners, people, tickets, timeline events and files: the run's `Writer`.

The last layer of the writer (support.imports.base has the list): tickets. New tickets without
files go a batch at a time (support.imports.new_tickets); the others, and any batch the database
refuses that way, one savepoint each. Imported tickets are written with the services' rules, not
through `open_ticket`: their SLA clocks run from the original reception under the partner's plan,
but nothing is mailed, no CSAT is asked, no notification is queued, and their escalation counts
from the import on (past steps are history).
"""

from collections.abc import Iterable
from functools import partial
from typing import Any

from programs.models import Membership, Partner, User
from support.entitlement import plan_for_partner
from support.escalation.terms import escalation_snapshot
from support.models import SourceIdentity, SupportPlan, Ticket, TicketEvent
from support.rules import sla
from support.tickets.clock import ESCALATES_FROM, past_thresholds, refresh_clock, sla_targets_of

from . import records as r
from .comments import CommentWriter, Lazy
from .identities import DERIVED_EVENT, PLACEHOLDER_DOMAIN, Known, ObjectFailed
from .new_tickets import takes, write_new_tickets
from .report import Tally
from .timeline import Change, StatusEvent, status_events

Kind = TicketEvent.Kind


class Writer(CommentWriter):
    """Writes one run's source records, batch by batch, remembering what each became."""

    # --- tickets ----------------------------------------------------------------------------------

    def tickets_batch(self, batch: list[r.Ticket], tally: Tally) -> None:
        known = self.identities(r.TICKET, (t.source_id for t in batch))
        comment_ids = [c.source_id for t in batch for c in t.comments]
        known_comments = self.identities(r.COMMENT, comment_ids)
        known_files = self.identities(
            r.ATTACHMENT, (a.source_id for t in batch for c in t.comments for a in c.attachments)
        )
        # Identities of tickets deleted here since: those tickets are imported again, with their comments.
        alive = set(Ticket.objects.filter(pk__in=[i.object_id for i in known.values()]).values_list("pk", flat=True))
        new: list[r.Ticket] = []  # never imported, without files: written together (support.imports.new_tickets)
        for source in batch:
            if self.mapping.skips(source.status):
                reason = f"“{source.status}” in {self.system.title()} (the mapping's skip_statuses)"
                tally.count(r.TICKET, "skipped", source.source_id, reason)
                self.skip_comments(source.comments, tally, f"its ticket {source.source_id} is {reason}")
                continue
            identity = known.get(source.source_id)
            present = identity is not None and identity.object_id in alive
            if present and identity is not None and identity.fingerprint == self.fingerprint(source.fingerprint_source):
                tally.count(r.TICKET, "unchanged", source.source_id)
                self._comments(source, identity, "unchanged", known_comments, known_files, tally)
            elif identity is None and self.bulk and takes(source):
                new.append(source)
            else:
                self.careful_ticket(source, identity, present, tally, known_comments, known_files)
        if new:
            write_new_tickets(self, new, tally)

    def careful_ticket(
        self,
        source: r.Ticket,
        identity: Known | None,
        present: bool,
        tally: Tally,
        known_comments: dict[str, Known] | None = None,
        known_files: dict[str, Known] | None = None,
    ) -> None:
        """Write one ticket in its own savepoint, then its comments and files, each in theirs."""
        outcome = self.each(
            tally, r.TICKET, source.source_id, lambda t=source, i=identity, p=present: self._ticket(t, i, p)
        )
        if outcome is None:
            self.skip_comments(source.comments, tally, f"its ticket {source.source_id} failed")
            return
        self._comments(source, identity, outcome, known_comments or {}, known_files or {}, tally)

    def _comments(
        self,
        source: r.Ticket,
        identity: Known | None,
        outcome: str,
        known_comments: dict[str, Known],
        known_files: dict[str, Known],
        tally: Tally,
    ) -> None:
        # An unchanged ticket is read only if one of its comments or files has to be written.
        ticket = Lazy(partial(self._ticket_of, identity, source))
        fresh = outcome == "created"
        for position, comment in enumerate(source.comments):
            opening = position == 0 and source.first_comment_is_description
            self._comment_with_files(ticket, opening, comment, known_comments, known_files, tally, fresh=fresh)
        if outcome != "unchanged" or (ticket.loaded and ticket().pk in self.tickets_with_new_events):
            self.finish_ticket(ticket())

    def orphans_batch(self, batch: list[r.Comment], tally: Tally) -> None:
        self.skip_comments(batch, tally, "its ticket is not in the export")

    def skip_comments(self, comments: Iterable[r.Comment], tally: Tally, reason: str) -> None:
        for comment in comments:
            tally.count(r.COMMENT, "skipped", comment.source_id, reason)
            for attachment in comment.attachments:
                tally.count(r.ATTACHMENT, "skipped", attachment.source_id, f"its comment {comment.source_id}: {reason}")

    def _ticket_of(self, identity: Known | None, source: r.Ticket) -> Ticket:
        if source.source_id in self.written_tickets:
            return self.written_tickets[source.source_id]
        assert identity is not None  # an unchanged ticket has its identity
        return Ticket.objects.select_related("plan__calendar").get(pk=identity.object_id)

    def mapped_ticket(self, source: r.Ticket) -> tuple[dict[str, Any], list[StatusEvent]]:
        """Return the ticket's values here and its status history; raise ObjectFailed when the mapping refuses it."""
        partner = self.partner_of_ticket(source)
        plan = self.plan_of(partner)
        submitter = self.user_of(source.requester_id) or self._unknown_requester(source, partner)
        values = self._ticket_values(source, partner, plan, submitter)
        history = self._status_history(source, values["status"])
        resolved = [e.at for e in history if e.kind == Kind.RESOLVED]
        closed = [e.at for e in history if e.kind == Kind.CLOSED]
        finished = values["status"] in (Ticket.Status.RESOLVED, Ticket.Status.CLOSED)
        values["resolved_at"] = max(resolved) if resolved and finished else None
        values["closed_at"] = max(closed) if closed and values["status"] == Ticket.Status.CLOSED else None
        return values, history

    def new_ticket_terms(self, plan: SupportPlan) -> dict[str, Any]:
        """Return a new ticket's escalation terms: the plan's, escalating from the import on."""
        return {**self._escalation_terms(plan), ESCALATES_FROM: self.escalates_from}

    def received_fields(self, ticket: Ticket, source: r.Ticket) -> dict[str, Any]:
        """Return the fields of the ticket's reception on its timeline: when the source received it, from whom."""
        return {
            "kind": Kind.RECEIVED,
            "at": source.created_at,
            "actor_id": ticket.submitter_id,
            "to_value": ticket.severity,
        }

    def _ticket(self, source: r.Ticket, identity: Known | None, present: bool) -> tuple[str, str]:
        fingerprint = self.fingerprint(source.fingerprint_source)
        ticket = Ticket.objects.get(pk=identity.object_id) if identity is not None and present else None
        values, history = self.mapped_ticket(source)
        if ticket is None:
            ticket = Ticket.objects.create(**values, escalation_terms=self.new_ticket_terms(values["plan"]))
            received = TicketEvent.objects.create(ticket=ticket, **self.received_fields(ticket, source))
            self.received_events[ticket.pk] = received
            outcome = "created"
        else:
            for name, value in values.items():
                setattr(ticket, name, value)
            ticket.save()
            ticket.events.filter(kind=Kind.RECEIVED).update(at=source.created_at, actor=values["submitter"])
            outcome = "updated"
        self._drop_derived_events(source)
        derived = self.derived_events(source, history)
        rows = TicketEvent.objects.bulk_create([TicketEvent(ticket=ticket, **fields) for _, fields in derived])
        for (key, _), row in zip(derived, rows, strict=True):
            self.remember(DERIVED_EVENT, key, row, "", None)
        self.remember(r.TICKET, source.source_id, ticket, fingerprint, identity)
        self.written_tickets[source.source_id] = ticket
        return outcome, ""

    def _escalation_terms(self, plan: SupportPlan) -> dict[str, Any]:
        """Return the plan's escalation snapshot, read once per run and plan."""
        if plan.pk not in self.terms_of_plan:
            self.terms_of_plan[plan.pk] = escalation_snapshot(plan)
        return self.terms_of_plan[plan.pk]

    def partner_of_ticket(self, source: r.Ticket) -> Partner:
        """Return the ticket's partner: its organisation, its group, its requester's, the requester's domain, or holding."""
        partner = self.partner_of_organization(source.organization_id)
        if partner is None and source.group_id in self.groups:
            slug = self.mapping.partner_for_group(source.group_id, self.groups[source.group_id].name)
            partner = self._partner_by_slug(slug, f"group {source.group_id}") if slug else None
        requester = self.people.get(source.requester_id)
        if partner is None and requester is not None:
            partner = self.partner_of_organization(requester.organization_id)
            if partner is None and requester.email:
                partner = self.partner_of_domain(requester.email)
        if partner is None:
            if self.mapping.unmatched == "refuse":
                raise ObjectFailed("no partner matches the ticket's organisation, group or requester")
            partner = self.holding_partner()
        return partner

    def plan_of(self, partner: Partner) -> SupportPlan:
        if partner.pk not in self.plan_of_partner:
            plan = plan_for_partner(partner)
            if plan is None and self.mapping.plan:
                plan = SupportPlan.objects.filter(name__iexact=self.mapping.plan).first()
                if plan is None:
                    raise ObjectFailed(f"the mapping's plan “{self.mapping.plan}” is not a support plan here")
            self.plan_of_partner[partner.pk] = plan
        plan = self.plan_of_partner[partner.pk]
        if plan is None:
            raise ObjectFailed(
                f"partner {partner} has no support plan (none of its tiers includes one) and the mapping names no plan"
            )
        return plan

    def _unknown_requester(self, source: r.Ticket, partner: Partner) -> User:
        """Return a placeholder for a requester the export's users do not hold."""
        email = f"{self.system}-user-{source.requester_id}@{PLACEHOLDER_DOMAIN}"
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User(email=email, full_name=f"Requester {source.requester_id}", is_active=False)
            user.set_unusable_password()
            user.save()
            Membership.objects.create(partner=partner, user=user)
        self.user_of_person[source.requester_id] = user
        return user

    def _ticket_values(self, source: r.Ticket, partner: Partner, plan: SupportPlan, submitter: User) -> dict[str, Any]:
        severity = self.mapping.severity(source.priority)
        if severity is None:
            raise ObjectFailed(f"priority “{source.priority}” is not in the mapping")
        custom = {name: source.custom_fields.get(field_id) for name, field_id in self.field_ids.items()}
        assignee = self.user_of(source.assignee_id)
        return {
            "partner": partner,
            "submitter": submitter,
            "plan": plan,
            "title": (source.subject or f"{self.system.title()} ticket {source.source_id}")[:200],
            "customer_name": str(custom.get("customer_name") or "")[:200] or "Not recorded in the source helpdesk",
            "environment": self.mapping.environment(_text(custom.get("environment"))),
            "environment_details": str(custom.get("environment_details") or "")[:300],
            "steps_to_reproduce": source.description or "(no description)",
            "business_impact": str(custom.get("business_impact") or "") or "Not recorded in the source helpdesk.",
            "severity": severity,
            "category": self.mapping.category(source.type),
            "status": self._status(source.status),
            "assignee": assignee,
            "received_at": source.created_at,
        }

    def _status(self, source_status: str) -> str:
        status = self.mapping.status(source_status)
        if status is None:
            raise ObjectFailed(f"status “{source_status}” is not in the mapping")
        return status

    def _status_history(self, source: r.Ticket, status: str) -> list[StatusEvent]:
        """Return the ticket's status events, ending in `status` (ours)."""
        changes = [Change(c.at, c.author_id, self._status(c.new)) for c in source.status_changes]
        return status_events(changes, final=status, final_at=source.updated_at, final_actor_id=source.assignee_id)

    def derived_events(self, source: r.Ticket, history: list[StatusEvent]) -> list[tuple[str, dict[str, Any]]]:
        """Return the fields of the events the ticket's history gives (its status changes, a note of its CCs), keyed."""
        rows = [
            (
                f"{source.source_id}:{n}",
                {
                    "kind": event.kind,
                    "at": event.at,
                    "actor_id": self.user_id_of(event.actor_id),
                    "by_staff": self.is_agent(event.actor_id),
                    "from_value": event.old,
                    "to_value": event.new,
                },
            )
            for n, event in enumerate(history)
        ]
        copied = sorted({self.people[i].email or self.people[i].name for i in source.cc_ids if i in self.people})
        if copied:
            # The portal has no ticket participants yet: the CCs are kept where staff see them.
            body = f"Copied on this ticket in {self.system.title()} (CC): {', '.join(copied)}. "
            note = {
                "kind": Kind.NOTE,
                "at": source.created_at,
                "public": False,
                "body": body + "They get no mail from the portal.",
            }
            rows.append((f"{source.source_id}:cc", note))
        return rows

    def _drop_derived_events(self, source: r.Ticket) -> None:
        derived = SourceIdentity.objects.filter(
            source_system=self.system, object_type=DERIVED_EVENT, source_id__startswith=f"{source.source_id}:"
        )
        TicketEvent.objects.filter(pk__in=list(derived.values_list("object_id", flat=True))).delete()
        derived.delete()

    def finish_ticket(self, ticket: Ticket) -> None:
        """Compute the clock from the original reception; record the thresholds already past, silently."""
        refresh_clock(ticket, self.calendars)
        crossed = past_thresholds(ticket)
        if crossed:
            rows = [TicketEvent(ticket=ticket, **fields) for fields in crossed.values()]
            TicketEvent.objects.bulk_create(rows, ignore_conflicts=True)  # an updated ticket has some already
            refresh_clock(ticket, self.calendars)

    def targets_of(self, ticket: Ticket) -> sla.Targets:
        """Return the SLA targets of the ticket's plan and severity, read once per run."""
        key = (ticket.plan_id, ticket.severity)
        if key not in self.targets:
            self.targets[key] = sla_targets_of(ticket)
        return self.targets[key]


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
