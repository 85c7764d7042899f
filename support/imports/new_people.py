"""People new to the portal, written a batch at a time: the import's fast path for accounts.

A person never imported whose address no account has gets the account and membership the
careful path (`Writer._person`, one savepoint each) would give — built by the same
`Writer.new_user` and `Writer.new_membership` — and the batch's accounts, memberships and
identities go in with one INSERT per table. A database error rolls the fast path back and the
batch's new people go the careful way, which names the one at fault.
"""

from typing import TYPE_CHECKING

from django.contrib.contenttypes.models import ContentType
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from partnerportal.bulk import insert_objects
from programs.models import Membership, User

from . import records as r
from .identities import insert_identities, undo
from .report import Tally

if TYPE_CHECKING:
    from .parties import PartyWriter


def write_new_people(writer: "PartyWriter", people: list[r.Person], tally: Tally) -> None:
    """Write `people` (never imported, their addresses free) as accounts; count each."""
    writer.journal.clear()
    try:
        with transaction.atomic():
            users = [writer.new_user(person) for person in people]
            memberships = [writer.new_membership(person, user) for person, user in zip(people, users, strict=True)]
            insert_objects(User, users)
            for membership, user in zip(memberships, users, strict=True):
                if membership is not None:
                    membership.user = user  # its id is known now
            insert_objects(Membership, [membership for membership in memberships if membership is not None])
            _identities(writer, people, users)
    except (IntegrityError, DataError):
        undo(writer.journal)  # what the caches learnt in the savepoint went with it
        for person in people:
            writer.careful_person(person, None, {}, tally)
        return
    writer.journal.clear()
    for person, user in zip(people, users, strict=True):
        writer.user_of_person[person.source_id] = user
        tally.count(r.USER, "created", person.source_id)
        writer.note_placeholder(tally, person)


def _identities(writer: "PartyWriter", people: list[r.Person], users: list[User]) -> None:
    user_type = ContentType.objects.get_for_model(User).pk
    rows = [
        (writer.system, r.USER, person.source_id, user_type, user.pk, writer.fingerprint(person.raw))
        for person, user in zip(people, users, strict=True)
    ]
    insert_identities(writer.run, rows, timezone.now())
