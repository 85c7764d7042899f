"""Changes to partners and their people. Each function is the one way to make its change."""

import csv
import io
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from partnerportal.audit import audit_context

from .models import ApiToken, Invitation, Membership, Metric, MetricImport, MetricValue, Partner, User, hash_token

if TYPE_CHECKING:
    from django_otp.plugins.otp_totp.models import TOTPDevice


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
def _pending_twice_is_refused() -> Iterator[None]:
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


# --- API tokens ------------------------------------------------------------------------------------

API_TOKEN_LIMIT = 20  # active tokens per person
API_TOKEN_TOUCH_SECONDS = 60  # last use is written at most this often per token


@transaction.atomic
def create_api_token(user: User, *, name: str) -> tuple[ApiToken, str]:
    """Create a personal API token for `user`; return it and its secret, which is shown only once."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the token after what will use it."})
    User.objects.select_for_update().filter(pk=user.pk).first()  # one create at a time per person: name and limit hold
    active = ApiToken.objects.active().filter(user=user)
    if active.filter(name=name).exists():
        raise ValidationError({"name": f"You already have a token named “{name}”. Revoke it or pick another name."})
    if active.count() >= API_TOKEN_LIMIT:
        raise ValidationError(f"You have {API_TOKEN_LIMIT} active tokens, the most allowed. Revoke one first.")
    secret = ApiToken.PREFIX + secrets.token_urlsafe(32)
    with audit_context(action="create_api_token", actor=user.pk):
        token = ApiToken.objects.create(user=user, name=name, prefix=secret[:10], digest=hash_token(secret))
    return token, secret


@transaction.atomic
def revoke_api_token(token: ApiToken, *, by: User) -> None:
    """Stop a token from working, for good. Only its owner revokes it (staff deactivate the person)."""
    if token.user_id != by.pk:
        raise PermissionDenied("This token is not yours.")
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at:
        raise ValidationError("This token is already revoked.")
    with audit_context(action="revoke_api_token", actor=by.pk):
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


def api_token_user(secret: str) -> tuple[User, ApiToken] | None:
    """Return the active person and token `secret` authenticates, noting the use; None when it does not."""
    if not secret.startswith(ApiToken.PREFIX) or len(secret) > 100:
        return None
    token = ApiToken.objects.active().select_related("user").filter(digest=hash_token(secret)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() >= API_TOKEN_TOUCH_SECONDS:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token.user, token


# --- Metric values ---------------------------------------------------------------------------------

IMPORT_COLUMNS = ("partner", "metric", "recorded_on", "value")
IMPORT_MAX_ROWS = 100_000
_ERRORS_SHOWN = 50


def import_metric_values(content: bytes, *, file_name: str, by: User, today: date | None = None) -> MetricImport:
    """Import metric values from CSV: all rows or none. Bad rows are refused with their row numbers.

    Columns: partner (slug), metric (key), recorded_on (YYYY-MM-DD), value, and optionally source.
    A value for the same partner, metric and day replaces the one on record (re-importing is safe).
    """
    today = today or timezone.localdate()
    rows, errors = _parse_metric_rows(content, file_name=file_name, today=today)
    if errors:
        shown = errors[:_ERRORS_SHOWN]
        if len(errors) > _ERRORS_SHOWN:
            shown.append(f"… and {len(errors) - _ERRORS_SHOWN} more rows with problems.")
        raise ValidationError(["Nothing was imported. Fix these rows and upload the whole file again:", *shown])
    with transaction.atomic(), audit_context(action="import_metric_values", actor=by.pk):
        batch = MetricImport.objects.create(file_name=file_name[:200], imported_by=by, row_count=len(rows))
        for row in rows:
            row.metric_import = batch
        MetricValue.objects.bulk_create(
            rows,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["partner", "metric", "recorded_on"],
            update_fields=["value", "source", "metric_import"],
        )
    return batch


def _read_metric_csv(content: bytes) -> tuple[list[dict[str, str]], str]:
    """Return the CSV's rows keyed by lower-case column, or why the whole file is refused."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], "The file is not UTF-8 text. Save it as “CSV UTF-8” and try again."
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [column for column in IMPORT_COLUMNS if column not in header]
    if missing:
        return [], (
            f"The first row must name the columns {', '.join(IMPORT_COLUMNS)} (source is optional); "
            f"missing: {', '.join(missing)}."
        )
    reader.fieldnames = header
    try:
        raw_rows = list(reader)
    except csv.Error as error:
        return [], f"The file is not valid CSV: {error}."
    if not raw_rows:
        return [], "The file has a header but no rows."
    if len(raw_rows) > IMPORT_MAX_ROWS:
        return [], f"The file has {len(raw_rows):,} rows; import at most {IMPORT_MAX_ROWS:,} at a time."
    return raw_rows, ""


def _parse_metric_rows(content: bytes, *, file_name: str, today: date) -> tuple[list[MetricValue], list[str]]:
    raw_rows, refusal = _read_metric_csv(content)
    if refusal:
        return [], [refusal]
    partners = dict(
        Partner.objects.filter(slug__in={(r.get("partner") or "").strip() for r in raw_rows}).values_list("slug", "pk")
    )
    metrics = {m.key: m for m in Metric.objects.filter(key__in={(r.get("metric") or "").strip() for r in raw_rows})}
    rows: list[MetricValue] = []
    errors: list[str] = []
    seen: dict[tuple[int | None, str, date | None], int] = {}
    for number, raw in enumerate(raw_rows, start=2):  # row 1 is the header
        problems: list[str] = []
        slug, key = (raw.get("partner") or "").strip(), (raw.get("metric") or "").strip()
        partner_id, metric = partners.get(slug), metrics.get(key)
        if partner_id is None:
            problems.append(f"no partner with the slug “{slug}”" if slug else "the partner is missing")
        if metric is None:
            problems.append(f"no metric with the key “{key}”" if key else "the metric is missing")
        elif metric.from_certifications:
            problems.append(f"{metric.name} is counted from certifications; record those instead")
        recorded_on = _parse_day(raw.get("recorded_on"), today, problems)
        value = _parse_value(raw.get("value"), metric, problems)
        source = (raw.get("source") or "").strip() or f"CSV import: {file_name}"
        if len(source) > 200:
            problems.append("the source is longer than 200 characters")
        identity = (partner_id, key, recorded_on)
        if not problems and identity in seen:
            problems.append(f"the same partner, metric and day as row {seen[identity]}")
        if problems:
            errors.append(f"Row {number}: " + "; ".join(problems) + ".")
            continue
        # Every None above came with a problem: a row without problems has all four.
        assert partner_id is not None and metric is not None and recorded_on is not None and value is not None
        seen[identity] = number
        rows.append(
            MetricValue(partner_id=partner_id, metric=metric, recorded_on=recorded_on, value=value, source=source)
        )
    return rows, errors


def _parse_day(raw: str | None, today: date, problems: list[str]) -> date | None:
    raw = (raw or "").strip()
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        problems.append(f"“{raw}” is not a date as YYYY-MM-DD" if raw else "the date is missing")
        return None
    if len(raw) != 10:
        problems.append(f"“{raw}” is not a date as YYYY-MM-DD")
        return None
    if day > today:
        problems.append(f"{raw} is in the future")
    return day


def _parse_value(raw: str | None, metric: Metric | None, problems: list[str]) -> Decimal | None:
    raw = (raw or "").strip().replace(",", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        problems.append(f"“{raw}” is not a number" if raw else "the value is missing")
        return None
    if not value.is_finite() or abs(value) >= Decimal("1e14"):
        problems.append(f"“{raw}” is not a usable number")
        return None
    if value != value.quantize(Decimal("0.01")):
        problems.append(f"“{raw}” has more than two decimals")
        return None
    if metric is not None:
        try:
            metric.validate_value(value)
        except ValidationError as error:
            problems.append(" ".join(error.messages).rstrip("."))
            return None
    return value


# --- Two-factor authentication ---------------------------------------------------------------------

RECOVERY_CODES = 10
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"


def two_factor_mandatory(user: User) -> bool:
    """Return True for the accounts that must use a second factor: every staff account."""
    return user.is_portal_staff or user.is_staff or user.is_superuser


def has_authenticator(user: User) -> bool:
    """Return True when the person has a confirmed authenticator app (one query)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return cast(bool, TOTPDevice.objects.filter(user=user, confirmed=True).exists())  # django_otp is untyped


def requires_two_factor(user: User) -> bool:
    """Return True when `user` must pass a second factor: all staff, and partners who turned it on."""
    return two_factor_mandatory(user) or has_authenticator(user)


@transaction.atomic
def start_totp_setup(user: User) -> "TOTPDevice":
    """Return the person's unconfirmed authenticator device (a new secret the first time)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        with audit_context(action="start_totp_setup", actor=user.pk):
            device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


@transaction.atomic
def confirm_totp(device: "TOTPDevice", *, code: str) -> list[str]:
    """Confirm an authenticator app by a code it shows; replace any earlier one; return new recovery codes."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if not device.verify_token(code.strip().replace(" ", "")):
        raise ValidationError({"code": "That code does not match. Enter the 6 digits your app shows now."})
    with audit_context(action="confirm_totp", actor=device.user_id):
        TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return _new_recovery_codes(device.user)


@transaction.atomic
def regenerate_recovery_codes(user: User) -> list[str]:
    """Replace the person's recovery codes with new ones (the old ones stop working)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise ValidationError("Turn on two-factor sign-in first: recovery codes stand in for the app.")
    with audit_context(action="regenerate_recovery_codes", actor=user.pk):
        return _new_recovery_codes(user)


def _new_recovery_codes(user: User) -> list[str]:
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def reset_two_factor(user: User, *, by: User) -> None:
    """Remove a person's authenticator and recovery codes (they lost both); staff set one up again at sign-in."""
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if not by.has_perm("programs.change_user"):
        raise PermissionDenied("Only people who manage accounts can reset two-factor sign-in.")
    with audit_context(action="reset_two_factor", actor=by.pk):
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()


@transaction.atomic
def disable_two_factor(user: User, *, by: User) -> None:
    """Turn two-factor sign-in off for a partner person (staff cannot: it is required of them)."""
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if by.pk != user.pk:
        raise PermissionDenied("Only the person can turn off their own two-factor sign-in.")
    if two_factor_mandatory(user):
        raise ValidationError("Two-factor sign-in is required for staff accounts.")
    with audit_context(action="disable_two_factor", actor=by.pk):
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
