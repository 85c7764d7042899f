"""The import's writer, third layer: comments become timeline events, attachments files the portal checked."""

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.core.files import File

from support.models import Ticket, TicketAttachment, TicketEvent
from support.tickets.uploads import check_upload

from . import records as r
from .identities import Known
from .parties import PartyWriter
from .report import Tally

Kind = TicketEvent.Kind
T = TypeVar("T")


class CommentWriter(PartyWriter):
    """Writes a ticket's comments and their files, each in its own savepoint."""

    # --- comments and attachments ---------------------------------------------------------------------

    def _comment_with_files(
        self,
        ticket: "Lazy[Ticket]",
        opening: bool,
        comment: r.Comment,
        known: dict[str, Known],
        known_files: dict[str, Known],
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
        event = Lazy(lambda: self.comment_events.get(comment.source_id) or self._event_of(comment.source_id, identity))
        for attachment in comment.attachments:
            self.each(
                tally,
                r.ATTACHMENT,
                attachment.source_id,
                lambda a=attachment: self._attachment(ticket, event, comment, a, known_files.get(a.source_id), fresh),
            )

    def _comment(
        self, ticket: "Lazy[Ticket]", opening: bool, comment: r.Comment, identity: Known | None, fresh: bool
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
            "actor_id": self.user_id_of(comment.author_id),
            "by_staff": self.is_agent(comment.author_id),
        }

    def _event_of(self, comment_id: str, identity: Known | None) -> TicketEvent:
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
        ticket: "Lazy[Ticket]",
        event: "Lazy[TicketEvent]",
        comment: r.Comment,
        attachment: r.Attachment,
        identity: Known | None,
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
                uploaded_by_id=event().actor_id,
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
            actor_id=event().actor_id,
            by_staff=event().by_staff,
            public=event().public,
            body=attachment.file_name,
        )
        self.tickets_with_new_events.add(ticket().pk)
        self.remember(r.ATTACHMENT, attachment.source_id, stored, self.fingerprint(attachment.raw), identity)
        return "created", ""


class Lazy(Generic[T]):
    """A value computed when first asked for (a ticket or event an unchanged object never needs)."""

    def __init__(self, compute: Callable[[], T]) -> None:
        self.compute, self.loaded = compute, False

    def __call__(self) -> T:
        if not self.loaded:
            self.value, self.loaded = self.compute(), True
        return self.value
