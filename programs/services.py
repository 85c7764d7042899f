"""Changes to partners and their people. Each function is the one way to make its change."""

import secrets
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from partnerportal.audit import audit_context

from .models import Invitation, Membership, Partner, User, hash_token


def _require_partner_admin(partner: Partner, by: User) -> None:
    membership = by.membership
    if not (membership and membership.partner_id == partner.pk and membership.is_admin):
        raise PermissionDenied("Only a partner admin of this organisation can manage its members.")


@transaction.atomic
def invite_member(
    partner: Partner, *, email: str, full_name: str = "", role: str, by: User, base_url: str
) -> tuple[Invitation, str]:
    """Invite a colleague to `partner` and email them a link; return the invitation and its token."""
    _require_partner_admin(partner, by)
    email = User.objects.normalize_email(email).strip().lower()
    existing = User.objects.filter(email__iexact=email, is_active=True).first()
    if existing and (existing.is_portal_staff or existing.membership):
        raise ValidationError({"email": "This person already has a Partner Portal account."})
    now = timezone.now()
    open_invitations = Invitation.objects.filter(
        partner=partner, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    )
    if open_invitations.filter(expires_at__gt=now).exists():
        raise ValidationError(
            {"email": "An invitation to this address is already pending. Revoke it to send a new one."}
        )
    open_invitations.update(revoked_at=now)  # expired ones: make room for the new invitation
    token = secrets.token_urlsafe(32)
    with audit_context(action="invite_member", actor=by.pk), _pending_twice_is_refused():
        invitation = Invitation.objects.create(
            partner=partner,
            email=email,
            full_name=full_name.strip(),
            role=role,
            token_hash=hash_token(token),
            invited_by=by,
            created_at=now,
            expires_at=now + timedelta(days=settings.INVITATION_VALID_DAYS),
        )
    accept_url = base_url.rstrip("/") + reverse("accept_invitation", args=[token])
    transaction.on_commit(lambda: _send_invitation_email(invitation, accept_url), robust=True)
    return invitation, token


@contextmanager
def _pending_twice_is_refused():
    # Two admins inviting the same address at the same moment: the constraint decides, in words.
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        raise ValidationError({"email": "An invitation to this address is already pending."}) from None


def _send_invitation_email(invitation: Invitation, accept_url: str) -> None:
    context = {"invitation": invitation, "accept_url": accept_url}
    send_mail(
        subject=f"You are invited to {invitation.partner.name} on Partner Portal",
        message=render_to_string("emails/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


def find_invitation(token: str) -> Invitation | None:
    """Return the invitation a token belongs to, usable or not, or None."""
    return Invitation.objects.select_related("partner", "invited_by").filter(token_hash=hash_token(token)).first()


@transaction.atomic
def accept_invitation(invitation: Invitation, *, full_name: str, password: str) -> User:
    """Create (or reactivate) the invited person's account and make them a member."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    now = timezone.now()
    if not invitation.is_usable(now):
        raise ValidationError("This invitation has expired or was already used.")
    user = User.objects.filter(email__iexact=invitation.email).first()
    if user and (user.is_portal_staff or Membership.objects.filter(user=user).exists()):
        raise ValidationError("This email address already belongs to an account.")
    with audit_context(action="accept_invitation", invitation=invitation.pk):
        if user is None:
            user = User(email=invitation.email)
        user.full_name = full_name.strip()
        user.is_active = True
        user.set_password(password)
        user.save()
        Membership.objects.create(partner=invitation.partner, user=user, role=invitation.role, joined_at=now)
        invitation.accepted_at = now
        invitation.save(update_fields=["accepted_at"])
    return user


@transaction.atomic
def revoke_invitation(invitation: Invitation, *, by: User) -> None:
    """Withdraw a pending invitation so its link stops working."""
    _require_partner_admin(invitation.partner, by)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)  # an accept may be racing
    if invitation.accepted_at or invitation.revoked_at:
        raise ValidationError("This invitation is no longer pending.")
    with audit_context(action="revoke_invitation", actor=by.pk):
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])


@transaction.atomic
def remove_member(membership: Membership, *, by: User) -> None:
    """Remove a person from their partner and close their account's access."""
    _require_partner_admin(membership.partner, by)
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    if membership.user_id == by.pk:
        raise ValidationError("You cannot remove yourself. Ask another partner admin.")
    with audit_context(action="remove_member", actor=by.pk):
        user = membership.user
        membership.delete()
        user.is_active = False
        user.save(update_fields=["is_active"])
