"""The import's writer, first layer: a run's state and the identity table.

A run's `Writer` (support.imports.writers) is four layers, one per module, each building on the
one before: this one (what a run holds, what each source object became, one savepoint per
object), parties (organisations, people), comments (comments and their files), and tickets. One
`Writer` per run holds what earlier batches resolved (partner of each organisation, user of each
person) and finds what a resumed run did not see in the identity table. Each object the careful
way is written in a savepoint: one that fails leaves nothing of itself and is counted failed.
"""

from collections.abc import Iterable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import DataError, IntegrityError, models, transaction
from django.utils import timezone

from programs.models import Partner, User
from support.models import ImportRun, SourceIdentity, SupportPlan, Ticket, TicketEvent
from support.rules import sla
from support.tickets.clock import CalendarCache

from . import records as r
from .identities import Journal, Journaled, Known, ObjectFailed, undo
from .mapping import Mapping
from .report import Tally


class BaseWriter:
    """What one run's writer holds, and how it remembers what each source object became."""

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

    def _field_ids(self) -> dict[str, str]:
        """Return the source field id each of our fields is read from (the mapping names a title or an id)."""
        by_title = {f.title.lower(): f.source_id for f in self.source.ticket_fields}
        found = {}
        for name in ("customer_name", "environment", "environment_details", "business_impact"):
            wanted = self.mapping.field_source(name)
            if wanted:
                found[name] = by_title.get(wanted.lower(), wanted)
        return found

    # --- identities ---------------------------------------------------------------------------

    def identities(self, object_type: str, source_ids: Iterable[str]) -> dict[str, Known]:
        """Return what the source objects of `object_type` with these ids became, by source id (the known ones)."""
        rows = SourceIdentity.objects.filter(
            source_system=self.system, object_type=object_type, source_id__in=list(source_ids)
        ).values_list("source_id", "pk", "object_id", "fingerprint", "made_here")
        return {source_id: Known(pk, target, digest, made) for source_id, pk, target, digest, made in rows}

    def remember(
        self,
        object_type: str,
        source_id: str,
        target: models.Model,
        fingerprint: str,
        identity: Known | None,
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

    def begin_batch(self) -> None:
        self.stored_files = []
        self.written_tickets = {}
        self.tickets_with_new_events = set()
        self.comment_events = {}
        self.received_events = {}
        self.new_identities = []

    def discard_stored_files(self) -> None:
        """Delete the files the batch stored: it rolled back, and its rows with it."""
        for name in self.stored_files:
            default_storage.delete(name)
        self.stored_files = []
