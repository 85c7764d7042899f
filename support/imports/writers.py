"""Writing source records as our partners, people, tickets, timeline events and files.

One `Writer` per run holds what earlier batches resolved (partner of each organisation, user of
each person) and finds what a resumed run did not see in the identity table. Each object is
written in a savepoint: one that fails leaves nothing of itself and is counted failed. Imported
tickets are written with the services' rules, not through `open_ticket`: their SLA clocks run
from the original reception under the partner's plan, but nothing is mailed, no CSAT is asked,
no notification is queued, and their escalation counts from the import on (past steps are history).
"""

import secrets
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from typing import Any, Generic, TypeVar

from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DataError, IntegrityError, models, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.text import slugify

from programs.models import Membership, Partner, User
from support.entitlement import plan_for_partner
from support.escalation.terms import escalation_snapshot
from support.models import ImportFinding, ImportRun, SourceIdentity, SupportPlan, Ticket, TicketAttachment, TicketEvent
from support.rules import sla
from support.tickets.clock import ESCALATES_FROM, CalendarCache, refresh_clock, sla_targets_of
from support.tickets.uploads import check_upload

from . import records as r
from .identities import DERIVED_EVENT, PLACEHOLDER_DOMAIN, Journal, Journaled, ObjectFailed, undo
from .mapping import Mapping
from .new_people import write_new_people
from .new_tickets import takes, write_new_tickets
from .report import Tally
from .timeline import Change, StatusEvent, status_events

Kind = TicketEvent.Kind
T = TypeVar("T")


class Writer:
    """Writes one run's source records, batch by batch, remembering what each became."""

    def __init__(
        self, run: ImportRun, source: r.SourceExport, mapping: Mapping, *, dry_run: bool, bulk: bool = True
    ) -> None:
        self.run, self.source, self.mapping, self.dry_run = run, source, mapping, dry_run
        self.system = source.system
        self.people = {person.source_id: person for person in source.people}
        self.organizations = {org.source_id: org for org in source.organizations}
        self.organization_of_domain = {domain: org.source_id for org in source.organizations for domain in org.domains}
        self.groups = {group.source_id: group for group in source.groups}
        self.field_ids = self._field_ids()
        # Who each organisation and person became: entries of an object that fails are undone.
        self.journal: Journal = []
        self.partner_of_org: Journaled[Partner | None] = Journaled(self.journal)
        self.user_of_person: Journaled[User] = Journaled(self.journal)
        self.plan_of_partner: dict[int, SupportPlan | None] = {}
        self.partner_of_slug: dict[str, Partner | None] = {}  # the mapping's partners, read once
        self.terms_of_plan: dict[int, dict[str, Any]] = {}
        self.received_events: dict[int, TicketEvent] = {}  # by ticket, written in the current batch
        self.calendars: CalendarCache = {}
        self.targets: dict[tuple[int, str], sla.Targets] = {}
        # New tickets without files are written a batch at a time (support.imports.new_tickets).
        self.bulk = bulk
        # Imported people who may sign in get a password nobody knows: one, hashed once per run.
        self._unknown_password: str | None = None
        self.stored_files: list[str] = []  # stored by the current batch: deleted if it rolls back
        self.written_tickets: dict[str, Ticket] = {}  # by source id, written in the current batch
        self.tickets_with_new_events: set[int] = set()  # whose clocks the current batch must recompute
        self.comment_events: dict[str, TicketEvent] = {}  # by source id, written in the current batch
        self.new_identities: list[SourceIdentity] = []  # of the batch's objects, written at its end
        self.object_identities: list[SourceIdentity] = []  # of the object being written
        self.escalates_from = run.started_at.isoformat()
        # The holding partner once found or made (journaled: gone if the savepoint that made it rolls back).
        self.holding: Journaled[Partner] = Journaled(self.journal)

    # --- identities ---------------------------------------------------------------------------

    def identities(self, object_type: str, source_ids: Iterable[str]) -> dict[str, SourceIdentity]:
        rows = SourceIdentity.objects.filter(
            source_system=self.system, object_type=object_type, source_id__in=list(source_ids)
        )
        return {row.source_id: row for row in rows}

    def remember(
        self,
        object_type: str,
        source_id: str,
        target: models.Model,
        fingerprint: str,
        identity: SourceIdentity | None,
        *,
        made_here: bool = True,
    ) -> None:
        """Record (or move) what the source object became; `made_here`: the import made it (not a match)."""
        now = timezone.now()
        content_type = ContentType.objects.get_for_model(target)
        if identity is None:
            # Written with the batch (one INSERT), kept only if the object's savepoint commits.
            self.object_identities.append(
                SourceIdentity(
                    source_system=self.system,
                    object_type=object_type,
                    source_id=source_id,
                    content_type=content_type,
                    object_id=target.pk,
                    fingerprint=fingerprint,
                    made_here=made_here,
                    first_run=self.run,
                    last_run=self.run,
                    imported_at=now,
                    updated_at=now,
                )
            )
        else:
            SourceIdentity.objects.filter(pk=identity.pk).update(
                content_type=content_type,
                object_id=target.pk,
                fingerprint=fingerprint,
                last_run=self.run,
                updated_at=now,
            )

    def fingerprint(self, value: Any) -> str:
        return r.digest([value, self.mapping.fingerprint])

    def each(self, tally: Tally, object_type: str, source_id: str, write: Any) -> str | None:
        """Write one object in a savepoint; count it; return its outcome (None when it failed)."""
        self.object_identities = []
        self.journal.clear()
        try:
            with transaction.atomic():
                outcome, reason = write()
        except (ObjectFailed, ValidationError, IntegrityError, DataError) as error:
            undo(self.journal)  # the rows it made are gone: so must be what the caches say of them
            message = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            tally.count(
                object_type, "failed", source_id, message.strip().splitlines()[0] if message else type(error).__name__
            )
            return None
        self.new_identities += self.object_identities
        tally.count(object_type, outcome, source_id, reason)
        return str(outcome)

    def end_batch(self) -> None:
        """Write the identities of the objects the batch made (in its transaction)."""
        SourceIdentity.objects.bulk_create(self.new_identities)
        self.new_identities = []

    # --- organisations ----------------------------------------------------------------------------

    def organizations_batch(self, batch: list[r.Organization], tally: Tally) -> None:
        known = self.identities(r.ORGANIZATION, (org.source_id for org in batch))
        for org in batch:
            self.each(
                tally, r.ORGANIZATION, org.source_id, lambda org=org: self._organization(org, known.get(org.source_id))
            )

    def _organization(self, org: r.Organization, identity: SourceIdentity | None) -> tuple[str, str]:
        fingerprint = self.fingerprint(org.raw)
        if identity is not None and identity.fingerprint == fingerprint:
            self.partner_of_org[org.source_id] = Partner.objects.filter(pk=identity.object_id).first()
            return "unchanged", ""
        partner = self.matching_partner(org)
        created = False
        if partner is None and self.mapping.unmatched == "create":
            partner, created = self._new_partner(org.name), True
        if partner is None:
            # Its tickets and people may still be matched by group or domain; else the unmatched rule applies.
            self.partner_of_org[org.source_id] = None
            if self.mapping.unmatched == "refuse":
                return (
                    "skipped",
                    f"no partner matches “{org.name}”: its tickets are refused (partners.unmatched: refuse)",
                )
            return "skipped", f"no partner matches “{org.name}”: its tickets go to {self.mapping.holding_partner}"
        self.remember(r.ORGANIZATION, org.source_id, partner, fingerprint, identity, made_here=created)
        self.partner_of_org[org.source_id] = partner
        if created:
            return "created", ""
        return ("updated" if identity is not None and identity.object_id != partner.pk else "unchanged"), ""

    def matching_partner(self, org: r.Organization) -> Partner | None:
        """Return the partner the mapping or the partner's name (or a domain) matches, or None."""
        slug = self.mapping.partner_for_organization(org.source_id, org.name)
        if slug:
            return self._partner_by_slug(slug, f"organization “{org.name}”")
        partner = Partner.objects.filter(name__iexact=org.name).first()
        for domain in org.domains:
            if partner is None and (slug := self.mapping.partner_for_domain(domain)):
                partner = self._partner_by_slug(slug, f"domain {domain}")
        return partner

    def _partner_by_slug(self, slug: str, what: str) -> Partner:
        if slug not in self.partner_of_slug:
            self.partner_of_slug[slug] = Partner.objects.filter(slug=slug).first()
        partner = self.partner_of_slug[slug]
        if partner is None:
            raise ObjectFailed(f"the mapping sends {what} to partner “{slug}”, and there is no partner with that slug")
        return partner

    def _new_partner(self, name: str) -> Partner:
        base = slugify(name)[:190] or "partner"
        slug, n = base, 1
        while Partner.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        return Partner.objects.create(name=name[:200], slug=slug, country=self.mapping.country)

    def holding_partner(self) -> Partner:
        """Return the named partner unmatched tickets go to, made when first needed."""
        if "partner" not in self.holding:
            name = self.mapping.holding_partner
            self.holding["partner"] = Partner.objects.filter(name__iexact=name).first() or self._new_partner(name)
        return self.holding["partner"]

    def partner_of_organization(self, org_id: str) -> Partner | None:
        """Return the partner an organisation matched (this run or an earlier one), or None."""
        if not org_id:
            return None
        if org_id not in self.partner_of_org:
            identity = self.identities(r.ORGANIZATION, [org_id]).get(org_id)
            if identity is not None:
                self.partner_of_org[org_id] = Partner.objects.filter(pk=identity.object_id).first()
            elif org_id in self.organizations:
                # Unmatched organisations keep no identity: a resumed run looks again the same way.
                self.partner_of_org[org_id] = self.matching_partner(self.organizations[org_id])
            else:
                self.partner_of_org[org_id] = None
        return self.partner_of_org[org_id]

    def partner_of_domain(self, email: str) -> Partner | None:
        domain = email.rpartition("@")[2].lower()
        if not domain:
            return None
        slug = self.mapping.partner_for_domain(domain)
        if slug:
            return self._partner_by_slug(slug, f"domain {domain}")
        return self.partner_of_organization(self.organization_of_domain.get(domain, ""))

    # --- people ---------------------------------------------------------------------------------

    def people_batch(self, batch: list[r.Person], tally: Tally) -> None:
        known = self.identities(r.USER, (person.source_id for person in batch))
        users = User.objects.in_bulk([identity.object_id for identity in known.values()])
        taken = self._taken_emails(self.user_email(person) for person in batch if person.source_id not in known)
        new: list[r.Person] = []  # never imported, and no account has their address: written together
        for person in batch:
            email = self.user_email(person)
            if self.bulk and person.source_id not in known and email.lower() not in taken:
                taken.add(email.lower())
                new.append(person)
            else:
                self.careful_person(person, known.get(person.source_id), users, tally)
        if new:
            write_new_people(self, new, tally)

    def careful_person(
        self, person: r.Person, identity: SourceIdentity | None, users: dict[int, User], tally: Tally
    ) -> None:
        """Write one person in their own savepoint."""
        outcome = self.each(tally, r.USER, person.source_id, lambda: self._person(person, identity, users))
        if outcome == "created":
            self.note_placeholder(tally, person)

    def _taken_emails(self, emails: Iterable[str]) -> set[str]:
        wanted = sorted({email.lower() for email in emails})
        found = User.objects.annotate(address=Lower("email")).filter(address__in=wanted)
        return set(found.values_list("address", flat=True))

    def user_email(self, person: r.Person) -> str:
        """Return the address of the account a person becomes: theirs (an agent's as mapped), or a placeholder."""
        email = self.mapping.staff_email(person.email) if person.is_agent and person.email else person.email
        if not email:
            kind = "agent" if person.is_agent else "user"
            return f"{self.system}-{kind}-{person.source_id}@{PLACEHOLDER_DOMAIN}"[:254]
        return email[:254]

    def note_placeholder(self, tally: Tally, person: r.Person) -> None:
        """List a person made here who cannot sign in (an agent has no staff account yet; no address)."""
        if not (person.is_agent or not person.email):
            return
        user = self.user_of_person[person.source_id]
        why = "agent with no staff account here" if person.is_agent else "person without an e-mail address"
        tally.note(
            ImportFinding.Kind.PLACEHOLDER,
            r.USER,
            person.source_id,
            f"{person.name or person.email or person.source_id}: {why}; inactive placeholder {user.email} stands in",
        )

    def _person(self, person: r.Person, identity: SourceIdentity | None, users: dict[int, User]) -> tuple[str, str]:
        fingerprint = self.fingerprint(person.raw)
        user = users.get(identity.object_id) if identity is not None else None
        if user is not None and identity is not None and identity.fingerprint == fingerprint:
            self.user_of_person[person.source_id] = user
            return "unchanged", ""
        email = self.mapping.staff_email(person.email) if person.is_agent and person.email else person.email
        existing = user or (User.objects.filter(email__iexact=email[:254]).first() if email else None)
        if existing is not None:
            self.user_of_person[person.source_id] = existing
            changed = self._update_person(existing, person, identity)
            self.remember(r.USER, person.source_id, existing, fingerprint, identity, made_here=False)
            return ("updated" if changed else "unchanged"), ""
        user = self._new_person(person)
        self.user_of_person[person.source_id] = user
        self.remember(r.USER, person.source_id, user, fingerprint, identity)
        return "created", ""

    def _update_person(self, user: User, person: r.Person, identity: SourceIdentity | None) -> bool:
        """Bring a person the import made up to date (name, partner); one we had already is left as it is."""
        if identity is None or not identity.made_here:
            return False
        changed = False
        if person.name and user.full_name != person.name[:150]:
            user.full_name = person.name[:150]
            user.save(update_fields=["full_name"])
            changed = True
        if not person.is_agent and not Membership.objects.filter(user=user).exists():
            partner = self.partner_of_person(person)
            if partner is not None:
                Membership.objects.create(partner=partner, user=user, joined_at=_joined(person))
                changed = True
        return changed

    def _new_person(self, person: r.Person) -> User:
        user = self.new_user(person)
        user.save()
        membership = self.new_membership(person, user)
        if membership is not None:
            membership.save()
        return user

    def new_user(self, person: r.Person) -> User:
        """Return the (unsaved) account a person becomes: active when they have an address and are no agent."""
        user = User(
            email=self.user_email(person),
            full_name=person.name[:150],
            is_active=not person.is_agent and bool(person.email),
        )
        if person.raw.get("created_at"):
            user.date_joined = _parsed(person.raw["created_at"]) or user.date_joined
        if user.is_active:
            # A password nobody knows: the person signs in by resetting it (Django serves no unusable
            # one). Hashing is slow on purpose, so the run hashes one random password for them all.
            if self._unknown_password is None:
                self._unknown_password = make_password(secrets.token_urlsafe(32))
            user.password = self._unknown_password
        else:
            user.set_unusable_password()
        return user

    def new_membership(self, person: r.Person, user: User) -> Membership | None:
        """Return the (unsaved) membership of a new person in their partner; None for agents and the unmatched."""
        partner = None if person.is_agent else self.partner_of_person(person)
        return None if partner is None else Membership(partner=partner, user=user, joined_at=_joined(person))

    def partner_of_person(self, person: r.Person) -> Partner | None:
        partner = self.partner_of_organization(person.organization_id)
        if partner is None and person.email:
            partner = self.partner_of_domain(person.email)
        if partner is None and self.mapping.unmatched != "refuse":
            partner = self.holding_partner()
        return partner

    def user_of(self, person_id: str) -> User | None:
        """Return the user a source person became (this run or an earlier one), or None."""
        if not person_id:
            return None
        if person_id not in self.user_of_person:
            identity = self.identities(r.USER, [person_id]).get(person_id)
            user = User.objects.filter(pk=identity.object_id).first() if identity is not None else None
            if user is None:
                return None
            self.user_of_person[person_id] = user
        return self.user_of_person[person_id]

    def is_agent(self, person_id: str) -> bool:
        person = self.people.get(person_id)
        return person is not None and person.is_agent

    # --- definitions read for the mapping only ---------------------------------------------------

    def groups_batch(self, batch: list[r.Group], tally: Tally) -> None:
        for group in batch:
            tally.count(
                r.GROUP,
                "skipped",
                group.source_id,
                f"“{group.name}” is an agent group: tickets are routed here by escalation levels "
                "(the mapping's partners.groups may send its tickets to a partner)",
            )

    def ticket_fields_batch(self, batch: list[r.TicketField], tally: Tally) -> None:
        for ticket_field in batch:
            tally.count(
                r.TICKET_FIELD,
                "skipped",
                ticket_field.source_id,
                f"“{ticket_field.title}” is a field definition: its values are read into tickets through the mapping's fields",
            )

    def _field_ids(self) -> dict[str, str]:
        """Return the source field id each of our fields is read from (the mapping names a title or an id)."""
        by_title = {f.title.lower(): f.source_id for f in self.source.ticket_fields}
        found = {}
        for name in ("customer_name", "environment", "environment_details", "business_impact"):
            wanted = self.mapping.field_source(name)
            if wanted:
                found[name] = by_title.get(wanted.lower(), wanted)
        return found

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
        identity: SourceIdentity | None,
        present: bool,
        tally: Tally,
        known_comments: dict[str, SourceIdentity] | None = None,
        known_files: dict[str, SourceIdentity] | None = None,
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
        identity: SourceIdentity | None,
        outcome: str,
        known_comments: dict[str, SourceIdentity],
        known_files: dict[str, SourceIdentity],
        tally: Tally,
    ) -> None:
        # An unchanged ticket is read only if one of its comments or files has to be written.
        ticket = _Lazy(partial(self._ticket_of, identity, source))
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

    def _ticket_of(self, identity: SourceIdentity | None, source: r.Ticket) -> Ticket:
        if source.source_id in self.written_tickets:
            return self.written_tickets[source.source_id]
        assert identity is not None  # an unchanged ticket has its identity
        return Ticket.objects.select_related("plan__calendar").get(pk=identity.object_id)

    def begin_batch(self) -> None:
        self.stored_files = []
        self.written_tickets = {}
        self.tickets_with_new_events = set()
        self.comment_events = {}
        self.received_events = {}
        self.new_identities = []

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

    def received_event(self, ticket: Ticket, source: r.Ticket) -> TicketEvent:
        return TicketEvent(
            ticket=ticket, kind=Kind.RECEIVED, at=source.created_at, actor=ticket.submitter, to_value=ticket.severity
        )

    def _ticket(self, source: r.Ticket, identity: SourceIdentity | None, present: bool) -> tuple[str, str]:
        fingerprint = self.fingerprint(source.fingerprint_source)
        ticket = Ticket.objects.get(pk=identity.object_id) if identity is not None and present else None
        values, history = self.mapped_ticket(source)
        if ticket is None:
            ticket = Ticket.objects.create(**values, escalation_terms=self.new_ticket_terms(values["plan"]))
            self.received_events[ticket.pk] = received = self.received_event(ticket, source)
            received.save()
            outcome = "created"
        else:
            for name, value in values.items():
                setattr(ticket, name, value)
            ticket.save()
            ticket.events.filter(kind=Kind.RECEIVED).update(at=source.created_at, actor=values["submitter"])
            outcome = "updated"
        self._drop_derived_events(source)
        derived = self.derived_events(ticket, source, history)
        for (key, _), row in zip(derived, TicketEvent.objects.bulk_create([row for _, row in derived]), strict=True):
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

    def derived_events(
        self, ticket: Ticket, source: r.Ticket, history: list[StatusEvent]
    ) -> list[tuple[str, TicketEvent]]:
        """Return the events the ticket's history gives (its status changes, a note of its CCs), with their keys."""
        rows = [
            (
                f"{source.source_id}:{n}",
                TicketEvent(
                    ticket=ticket,
                    kind=event.kind,
                    at=event.at,
                    actor=self.user_of(event.actor_id),
                    by_staff=self.is_agent(event.actor_id),
                    from_value=event.old,
                    to_value=event.new,
                ),
            )
            for n, event in enumerate(history)
        ]
        copied = sorted({self.people[i].email or self.people[i].name for i in source.cc_ids if i in self.people})
        if copied:
            # The portal has no ticket participants yet: the CCs are kept where staff see them.
            body = f"Copied on this ticket in {self.system.title()} (CC): {', '.join(copied)}. "
            note = TicketEvent(
                ticket=ticket,
                kind=Kind.NOTE,
                at=source.created_at,
                public=False,
                body=body + "They get no mail from the portal.",
            )
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
        now = timezone.now()
        crossed = [point for point in sla.thresholds(ticket) if point[0] <= now]
        if crossed:
            TicketEvent.objects.bulk_create(
                [
                    TicketEvent(ticket=ticket, kind=kind, sla_target=target, to_value=key, at=at, public=False)
                    for at, kind, target, key in crossed
                ],
                ignore_conflicts=True,
            )
            refresh_clock(ticket, self.calendars)

    # --- comments and attachments ---------------------------------------------------------------------

    def _comment_with_files(
        self,
        ticket: "_Lazy[Ticket]",
        opening: bool,
        comment: r.Comment,
        known: dict[str, SourceIdentity],
        known_files: dict[str, SourceIdentity],
        tally: Tally,
        *,
        fresh: bool,
    ) -> None:
        """Import a comment and its files; on a ticket just (re)created every one is written anew."""
        identity = known.get(comment.source_id)
        if not fresh and identity is not None and identity.fingerprint == self.fingerprint(comment.raw):
            tally.count(r.COMMENT, "unchanged", comment.source_id)
            outcome: str | None = "unchanged"
        else:
            outcome = self.each(
                tally, r.COMMENT, comment.source_id, lambda: self._comment(ticket, opening, comment, identity, fresh)
            )
        if outcome is None:
            for attachment in comment.attachments:
                tally.count(r.ATTACHMENT, "skipped", attachment.source_id, f"its comment {comment.source_id} failed")
            return
        event = _Lazy(lambda: self.comment_events.get(comment.source_id) or self._event_of(comment.source_id, identity))
        for attachment in comment.attachments:
            self.each(
                tally,
                r.ATTACHMENT,
                attachment.source_id,
                lambda a=attachment: self._attachment(ticket, event, comment, a, known_files.get(a.source_id), fresh),
            )

    def _comment(
        self, ticket: "_Lazy[Ticket]", opening: bool, comment: r.Comment, identity: SourceIdentity | None, fresh: bool
    ) -> tuple[str, str]:
        fingerprint = self.fingerprint(comment.raw)
        if opening:
            # The first comment is the ticket's description: the reception of the ticket, here.
            event = self.received_events.get(ticket().pk) or ticket().events.filter(kind=Kind.RECEIVED).first()
            assert event is not None  # written with the ticket
            self.remember(r.COMMENT, comment.source_id, event, fingerprint, identity)
            self.comment_events[comment.source_id] = event
            return ("updated" if identity is not None and not fresh else "created"), ""
        fields = self.comment_fields(comment)
        existing = TicketEvent.objects.filter(pk=identity.object_id).first() if identity and not fresh else None
        if existing is None:
            event = TicketEvent.objects.create(ticket=ticket(), **fields)
            outcome = "created"
        else:
            TicketEvent.objects.filter(pk=existing.pk).update(**fields)
            event, outcome = existing, "updated"
            for name, value in fields.items():
                setattr(event, name, value)
        self.tickets_with_new_events.add(ticket().pk)
        self.remember(r.COMMENT, comment.source_id, event, fingerprint, identity)
        self.comment_events[comment.source_id] = event
        return outcome, ""

    def comment_fields(self, comment: r.Comment) -> dict[str, Any]:
        """Return the timeline event's fields for a comment: a public reply or an internal note, as mapped."""
        public = self.mapping.comment_is_public(comment.public)
        return {
            "kind": Kind.COMMENT if public else Kind.NOTE,
            "public": public,
            "body": comment.body,
            "at": comment.created_at,
            "actor": self.user_of(comment.author_id),
            "by_staff": self.is_agent(comment.author_id),
        }

    def targets_of(self, ticket: Ticket) -> sla.Targets:
        """Return the SLA targets of the ticket's plan and severity, read once per run."""
        key = (ticket.plan_id, ticket.severity)
        if key not in self.targets:
            self.targets[key] = sla_targets_of(ticket)
        return self.targets[key]

    def _event_of(self, comment_id: str, identity: SourceIdentity | None) -> TicketEvent:
        identity = identity or self.identities(r.COMMENT, [comment_id])[comment_id]
        return TicketEvent.objects.get(pk=identity.object_id)

    def refusal(self, attachment: r.Attachment) -> str | None:
        """Return why the portal's checks refuse the file of `attachment` (missing, too big, wrong type), or None."""
        if attachment.path is None:
            missing = attachment.missing or f"the file is not in the export (attachments/{attachment.source_id}/)"
            return f"“{attachment.file_name}”: {missing}"
        with attachment.path.open("rb") as handle:
            try:
                check_upload(File(handle, name=attachment.file_name))
            except ValidationError as error:
                return " ".join(error.messages)
        return None

    def _attachment(
        self,
        ticket: "_Lazy[Ticket]",
        event: "_Lazy[TicketEvent]",
        comment: r.Comment,
        attachment: r.Attachment,
        identity: SourceIdentity | None,
        fresh: bool,
    ) -> tuple[str, str]:
        if identity is not None and not fresh:
            return "unchanged", ""  # files do not change once attached
        refused = self.refusal(attachment)
        if refused:
            return "skipped", refused
        if self.dry_run:
            return "created", ""
        assert attachment.path is not None  # refused otherwise
        with attachment.path.open("rb") as handle:
            upload = check_upload(File(handle, name=attachment.file_name))
            stored = TicketAttachment(
                ticket=ticket(),
                original_name=attachment.file_name[:200],
                content_type=upload.checked_content_type,
                size=upload.size,
                uploaded_by=event().actor,
                uploaded_at=comment.created_at,
                public=event().public,
            )
            stored.file.save(attachment.file_name, upload, save=False)
            self.stored_files.append(str(stored.file.name))
        stored.save()
        TicketEvent.objects.create(
            ticket=ticket(),
            kind=Kind.ATTACHMENT,
            at=comment.created_at,
            actor=event().actor,
            by_staff=event().by_staff,
            public=event().public,
            body=attachment.file_name,
        )
        self.tickets_with_new_events.add(ticket().pk)
        self.remember(r.ATTACHMENT, attachment.source_id, stored, self.fingerprint(attachment.raw), identity)
        return "created", ""

    def discard_stored_files(self) -> None:
        """Delete the files the batch stored: it rolled back, and its rows with it."""
        for name in self.stored_files:
            default_storage.delete(name)
        self.stored_files = []


class _Lazy(Generic[T]):
    """A value computed when first asked for (a ticket or event an unchanged object never needs)."""

    def __init__(self, compute: Callable[[], T]) -> None:
        self.compute, self.loaded = compute, False

    def __call__(self) -> T:
        if not self.loaded:
            self.value, self.loaded = self.compute(), True
        return self.value


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _parsed(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _joined(person: r.Person) -> datetime:
    return _parsed(person.raw.get("created_at")) or timezone.now()
