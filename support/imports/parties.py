"""The import's writer, second layer: organisations become partners, people become accounts and members."""

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.text import slugify

from programs.models import Membership, Partner, User
from support.models import ImportFinding

from . import records as r
from .base import BaseWriter
from .identities import PLACEHOLDER_DOMAIN, Known, ObjectFailed
from .new_people import write_new_people
from .report import Tally


class PartyWriter(BaseWriter):
    """Writes organisations and people, and answers who a source organisation or person is here."""

    # --- organisations ----------------------------------------------------------------------------

    def organizations_batch(self, batch: list[r.Organization], tally: Tally) -> None:
        known = self.identities(r.ORGANIZATION, (org.source_id for org in batch))
        for org in batch:
            self.each(
                tally, r.ORGANIZATION, org.source_id, lambda org=org: self._organization(org, known.get(org.source_id))
            )

    def _organization(self, org: r.Organization, identity: Known | None) -> tuple[str, str]:
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
            email, identity = self.user_email(person), known.get(person.source_id)
            if self._unchanged_user(person, identity, users):
                tally.count(r.USER, "unchanged", person.source_id)
            elif self.bulk and identity is None and email.lower() not in taken:
                taken.add(email.lower())
                new.append(person)
            else:
                self.careful_person(person, identity, users, tally)
        if new:
            write_new_people(self, new, tally)

    def careful_person(self, person: r.Person, identity: Known | None, users: dict[int, User], tally: Tally) -> None:
        """Write one person in their own savepoint."""
        outcome = self.each(tally, r.USER, person.source_id, lambda: self._person(person, identity, users))
        if outcome == "created":
            self.note_placeholder(tally, person)

    def _taken_emails(self, emails: Iterable[str]) -> set[str]:
        wanted = sorted({email.lower() for email in emails})
        found = User.objects.annotate(address=Lower("email")).filter(address__in=wanted)
        return set(found.values_list("address", flat=True))

    def _unchanged_user(self, person: r.Person, identity: Known | None, users: dict[int, User]) -> bool:
        """Return True (and remember the account) when an earlier run imported the person as they are now."""
        user = users.get(identity.object_id) if identity is not None else None
        if user is None or identity is None or identity.fingerprint != self.fingerprint(person.raw):
            return False
        self.user_of_person[person.source_id] = user
        return True

    def _mapped_email(self, person: r.Person) -> str:
        """Return the person's address here: theirs, an agent's as the mapping sends it; empty when none."""
        return self.mapping.staff_email(person.email) if person.is_agent and person.email else person.email

    def user_email(self, person: r.Person) -> str:
        """Return the address of the account a person becomes: theirs (an agent's as mapped), or a placeholder."""
        email = self._mapped_email(person)
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

    def _person(self, person: r.Person, identity: Known | None, users: dict[int, User]) -> tuple[str, str]:
        if self._unchanged_user(person, identity, users):
            return "unchanged", ""
        fingerprint = self.fingerprint(person.raw)
        user = users.get(identity.object_id) if identity is not None else None
        email = self._mapped_email(person)
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

    def _update_person(self, user: User, person: r.Person, identity: Known | None) -> bool:
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

    def user_id_of(self, person_id: str) -> int | None:
        """Return the id of the user a source person became, or None."""
        user = self.user_of(person_id)
        return None if user is None else user.pk

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


def _parsed(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _joined(person: r.Person) -> datetime:
    return _parsed(person.raw.get("created_at")) or timezone.now()
