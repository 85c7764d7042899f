"""Program notices: every program change that touches a partner, on its home page and by mail.

A notice is written in the transaction of the change (a re-tier's move, a pending drop, a drop
applied, a released claim), or by the upkeep for what is found by looking (a tier at risk at the
next re-tier, a claim about to be released), or by a worker right after a policy is published
(where each partner would land needs a what-if run). Each partner is told each thing once (a
unique key). Mail goes out from the `tiering.tasks.mail_notices` task, nudged on commit and swept
by the upkeep, to the people who want that kind: partner admins all by default, members none
until they pick some on their notices page.
"""

import datetime as dt
import logging
import smtplib
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone

from partnerportal.bulk import insert_returning
from partnerportal.health import record_heartbeat
from partnerportal.models import Heartbeat
from programs.models import Membership, PartnerMotion, User

from . import webhooks
from .ladder_rules import ResultWording
from .models import (
    GRANDFATHERING,
    AccountClaim,
    Ladder,
    Notice,
    NoticeKind,
    NoticePreference,
    Policy,
    RetierResult,
    RetierRun,
    Standing,
    Tier,
)
from .schedule import next_retier_date
from .webhooks import Move

# Start looking for tiers at risk this long before the re-tier, so the notice comes at least 90 days ahead.
AT_RISK_LEAD = dt.timedelta(days=100)
CLAIM_NOTICE = dt.timedelta(days=7)
AT_RISK_CHECK = "at_risk_check"
MAIL_BATCH = 200
Result = RetierResult.Move
log = logging.getLogger(__name__)


def _date(day: dt.date | None) -> str:
    return f"{day:%-d %B %Y}" if day else "—"


COLUMNS = ["partner", "kind", "key", "title", "body", "link", "created_at"]


def post(notices: Sequence[Notice]) -> int:
    """Write `notices` (each partner and key once: a repeat is a no-op), nudge the mailer on commit;
    return how many are new. One COPY on PostgreSQL: a first re-tier tells 300,000 partner × ladder."""
    if not notices:
        return 0
    rows = [
        [getattr(notice, "partner_id" if column == "partner" else column) for column in COLUMNS] for notice in notices
    ]
    written = insert_returning(Notice, COLUMNS, rows, conflict="(partner_id, key) DO NOTHING", returning=["id"])
    if written:
        transaction.on_commit(nudge_mailer, robust=True)
    return len(written)


def nudge_mailer() -> None:
    from .tasks import mail_notices  # the task module imports the services that import this one

    mail_notices.delay()


def _notice(partner_id: int, kind: str, key: str, title: str, body: str, link: str, now: dt.datetime) -> Notice:
    return Notice(partner_id=partner_id, kind=kind, key=key, title=title[:200], body=body, link=link, created_at=now)


# --- Written with the change ---------------------------------------------------------------------


CHANGE_WORDS = {
    "entry": "you joined {ladder} on {after}",
    "upgrade": "you moved up to {after} in {ladder}",
    "downgrade": "you moved down to {after} in {ladder}",
    "exit": "you left {ladder}",
}


def tier_changes(moves: Iterable[Move], *, now: dt.datetime | None = None) -> int:
    """Tell each partner of its tier moves, with the attribution."""
    moves = list(moves)
    if not moves:
        return 0
    now = now or timezone.now()
    ladders = dict(Ladder.objects.filter(pk__in={move.ladder_id for move in moves}).values_list("pk", "name"))
    tier_ids = {tier for move in moves for tier in (move.from_tier_id, move.to_tier_id) if tier}
    tiers = dict(Tier.objects.filter(pk__in=tier_ids).values_list("pk", "name"))
    link = reverse("my_tiers")
    notices = []
    for move in moves:
        ladder = ladders[move.ladder_id]
        before = tiers.get(move.from_tier_id) if move.from_tier_id else None
        after = tiers.get(move.to_tier_id) if move.to_tier_id else None
        title = f"{ladder}: {before or 'no tier'} → {after or 'no tier'}"
        what = CHANGE_WORDS.get(move.kind, "your tier in {ladder} changed").format(ladder=ladder, after=after)
        body = f"On {_date(move.effective_on)} {what}. Why: {move.reason}"
        key = f"tier_changed:{move.ladder_id}:{move.effective_on}:{move.kind}:{move.to_tier_id or 0}"
        notices.append(_notice(move.partner_id, NoticeKind.TIER_CHANGED, key, title, body, link, now))
    return post(notices)


def pending_drops(run: RetierRun, standings: Sequence[Standing], *, now: dt.datetime | None = None) -> int:
    """Tell each partner whose drop `run` marked: the reason, the grandfathering date, the conversation to come."""
    if not standings:
        return 0
    now = now or timezone.now()
    wording = ResultWording(run)
    results = {
        (result.partner_id, result.ladder_id): result
        for result in RetierResult.objects.filter(
            run=run, partner_id__in={standing.partner_id for standing in standings}
        )
    }
    link = reverse("my_tiers")
    notices = []
    for standing in standings:
        result = results.get((standing.partner_id, standing.ladder_id))
        tier = standing.tier.name if standing.tier else "your tier"
        lower = standing.pending_tier.name if standing.pending_tier else "no tier"
        reason = wording.reason(result) if result else ""
        body = (
            f"The re-tier of {_date(run.as_of)} found {standing.ladder.name} below {tier}'s criteria"
            f"{f': {reason}' if reason else '.'} You keep {tier} and its benefits until "
            f"{_date(standing.grandfathered_until)} ({GRANDFATHERING.days} days). The drop to {lower} takes "
            "effect only after your partner manager has talked it through with you: what you need to stay, "
            "and what puts you back."
        )
        notices.append(
            _notice(
                standing.partner_id, NoticeKind.DROP_PENDING, f"drop_pending:{standing.ladder_id}:{run.pk}",
                f"{standing.ladder.name}: {tier} kept until {_date(standing.grandfathered_until)}", body, link, now,
            )
        )  # fmt: skip
    return post(notices)


def claims_released(claims: Iterable[AccountClaim], *, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    link = reverse("account_claims")
    notices = []
    for claim in claims:
        body = (
            f"Your claim on {claim.account_name} ended on {_date(timezone.localdate(claim.released_at))}: "
            f"{claim.get_release_reason_display().lower()}. Other partners may claim it now."
        )
        title = f"{claim.account_name} is released"
        notices.append(
            _notice(claim.partner_id, NoticeKind.CLAIM_RELEASED, f"claim_released:{claim.pk}", title, body, link, now)
        )
    return post(notices)


# --- Found by looking (the upkeep) ---------------------------------------------------------------


def claims_expiring(now: dt.datetime, *, engagement_days: int) -> int:
    """Tell partners of held claims that will be released within 7 days (90 days over, or too quiet)."""
    claims = AccountClaim.objects.held().annotate(last_engaged=Max("engagements__logged_at"))
    quiet = dt.timedelta(days=engagement_days)
    soon = []
    for claim in claims.filter(
        Q(expires_at__lte=now + CLAIM_NOTICE) | Q(claimed_at__lte=now + CLAIM_NOTICE - quiet)
    ).order_by("pk"):
        quiet_end = max(claim.claimed_at, claim.last_engaged or claim.claimed_at) + quiet
        ends = min(claim.expires_at, quiet_end)
        if ends <= now + CLAIM_NOTICE:
            why = (
                "its 90 days are over"
                if ends == claim.expires_at
                else f"no engagement logged for {engagement_days} days — log one to keep it"
            )
            soon.append(
                _notice(
                    claim.partner_id, NoticeKind.CLAIM_EXPIRING, f"claim_expiring:{claim.pk}",
                    f"{claim.account_name} is released on {_date(timezone.localdate(ends))}",
                    f"Your claim on {claim.account_name} ends on {_date(timezone.localdate(ends))}: {why}.",
                    reverse("account_claims"), now,
                )
            )  # fmt: skip
    return post(soon)


def check_at_risk(today: dt.date, *, now: dt.datetime | None = None) -> int | None:
    """Once a day from AT_RISK_LEAD before the re-tier: tell partners whose tier would drop at it.

    A what-if run as of the re-tier's day with today's figures (what the next run will count, with
    the policy in force then), read and deleted: its results are what the tiers page shows as the
    risk. Partners already waiting out a drop are not told again. Returns None when not due.
    """
    now = now or timezone.now()
    retier = next_retier_date(today)
    last = Heartbeat.objects.filter(name=AT_RISK_CHECK).values_list("last_run_at", flat=True).first()
    if today < retier - AT_RISK_LEAD or (last and timezone.localdate(last) == today):
        return None
    from .retier import execute_run, start_run  # the re-tier imports the notices it writes

    run = execute_run(start_run(kind=RetierRun.Kind.DRY_RUN, as_of=retier, by=None))
    try:
        with transaction.atomic():  # the webhooks and the notices that say they were told, together
            told = _at_risk_notices(run, retier, now)
            record_heartbeat(AT_RISK_CHECK, now=now)
    finally:
        run.delete()
    return told


def _at_risk_notices(run: RetierRun, retier: dt.date, now: dt.datetime) -> int:
    wording = ResultWording(run)
    pending = set(Standing.objects.filter(grandfathered_until__isnull=False).values_list("partner_id", "ladder_id"))
    results = [
        result
        for result in RetierResult.objects.filter(run=run, move__in=[Result.DOWN, Result.EXIT])
        .select_related("ladder__motion", "current_tier", "computed_tier")
        .order_by("pk")
        if (result.partner_id, result.ladder_id) not in pending
    ]
    told = set(
        Notice.objects.filter(kind=NoticeKind.AT_RISK, key__endswith=f":{retier}").values_list("partner_id", "key")
    )
    new = [result for result in results if (result.partner_id, f"at_risk:{result.ladder_id}:{retier}") not in told]
    link = reverse("my_tiers")
    notices = []
    for result in new:
        tier = result.current_tier.name if result.current_tier else "your tier"
        landing = result.computed_tier.name if result.computed_tier else "no tier"
        body = (
            f"With your figures as the re-tier of {_date(retier)} will count them, {result.ladder.name} would "
            f"land on {landing}: {wording.reason(result)} Figures leaving the measurement window by then no "
            f"longer count. What it takes to keep {tier} is on your tiers page."
        )
        title = f"{result.ladder.name}: {tier} at risk at the re-tier of {_date(retier)}"
        key = f"at_risk:{result.ladder_id}:{retier}"
        notices.append(_notice(result.partner_id, NoticeKind.AT_RISK, key, title, body, link, now))
    subscribed = webhooks.subscribed_partners() if new else set()
    webhooks.publish_at_risk([result for result in new if result.partner_id in subscribed], retier, wording)
    return post(notices)


def policy_published(policy: Policy, *, today: dt.date | None = None, now: dt.datetime | None = None) -> int:
    """Tell every partner of the policy's motion when it takes effect and where it would land today.

    Run by a worker after the publishing commits: a what-if run of the policy with today's figures,
    read and deleted.
    """
    from .retier import execute_run, start_run  # the re-tier imports the notices it writes

    now = now or timezone.now()
    today = today or timezone.localdate(now)
    run = execute_run(start_run(kind=RetierRun.Kind.DRY_RUN, as_of=today, by=None, policy=policy))
    try:
        landing = dict(RetierResult.objects.filter(run=run).values_list("partner_id", "computed_tier__name"))
    finally:
        run.delete()
    ladder = policy.ladder
    partners = PartnerMotion.objects.filter(motion=ladder.motion_id).values_list("partner_id", flat=True)
    notices = []
    for partner_id in partners:
        where = landing.get(partner_id)
        body = (
            f"Version {policy.version} of the {ladder.name} criteria was published on {_date(policy.published_on)} "
            f"and takes effect on {_date(policy.effective_from)}. "
            + (f"With today's figures you would land on {where}." if where else
               "With today's figures you would reach no tier under it.")
            + (f" {policy.summary}" if policy.summary else "")
        )  # fmt: skip
        notices.append(
            _notice(
                partner_id, NoticeKind.POLICY_PUBLISHED, f"policy_published:{policy.pk}",
                f"New {ladder.name} criteria from {_date(policy.effective_from)}", body, reverse("my_tiers"), now,
            )
        )  # fmt: skip
    return post(notices)


def policies_untold(today: dt.date) -> list[Policy]:
    """Return policies published in the last week whose partners were not told (a lost task)."""
    recent = Policy.objects.announced().filter(published_on__gte=today - dt.timedelta(days=7)).select_related("ladder")
    untold = []
    for policy in recent:
        told = Notice.objects.filter(key=f"policy_published:{policy.pk}").exists()
        if not told and PartnerMotion.objects.filter(motion=policy.ladder.motion_id).exists():
            untold.append(policy)
    return untold


# --- Who gets mail ---------------------------------------------------------------------------------


def mail_default(membership: Membership) -> bool:
    """Without a choice of their own, partner admins get every notice by mail and members none."""
    return membership.is_admin


def mail_choices(user: User) -> dict[str, bool]:
    """Return, per kind, whether `user` gets it by mail (their choice, else the default of their role)."""
    membership = user.membership
    default = bool(membership and mail_default(membership))
    chosen = dict(NoticePreference.objects.filter(user=user).values_list("kind", "mail"))
    return {kind: chosen.get(kind, default) for kind in NoticeKind.values}


@transaction.atomic
def set_mail_choices(user: User, kinds: Iterable[str]) -> None:
    """Record that `user` wants `kinds` by mail and no other kind."""
    wanted = set(kinds)
    for kind in NoticeKind.values:
        NoticePreference.objects.update_or_create(user=user, kind=kind, defaults={"mail": kind in wanted})


def mail_due(*, limit: int = MAIL_BATCH) -> int:
    """Mail a batch of notices not mailed yet to the people who want them; return how many notices.

    The batch is locked while it is sent (its own rows only: partners are not locked) and marked in
    the same transaction, so a worker that dies mid-batch leaves it to the next sweep. An address
    the mail server refuses is logged and skipped: one bad address never holds back the others.
    """
    with transaction.atomic():
        batch = list(
            Notice.objects.filter(mailed_at__isnull=True)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("partner")
            .order_by("created_at", "pk")[:limit]
        )
        if not batch:
            return 0
        people = _recipients({notice.partner_id for notice in batch})
        preferences = f"{settings.PORTAL_URL}{reverse('notice_preferences')}"
        with get_connection() as connection:
            for notice in batch:
                for email in people.get((notice.partner_id, notice.kind), []):
                    message = EmailMessage(
                        subject=f"{notice.partner.name}: {notice.title}",
                        body=f"{notice.body}\n\n{settings.PORTAL_URL}{notice.link}\n\n"
                        f"Choose which notices you get by mail: {preferences}",
                        to=[email],
                        connection=connection,
                    )
                    try:
                        message.send()
                    except (smtplib.SMTPException, OSError):
                        log.warning("Notice %s not mailed to %s", notice.pk, email, exc_info=True)
        Notice.objects.filter(pk__in=[notice.pk for notice in batch]).update(mailed_at=timezone.now())
    return len(batch)


def mail_until_idle(*, batches: int = 50) -> int:
    total = 0
    for _ in range(batches):
        sent = mail_due()
        if not sent:
            break
        total += sent
    return total


def _recipients(partner_ids: set[int]) -> dict[tuple[int, str], list[str]]:
    """Return the addresses per (partner, kind) of the active people who want that kind by mail."""
    memberships = list(Membership.objects.filter(partner__in=partner_ids, user__is_active=True).select_related("user"))
    chosen: dict[tuple[int, str], bool] = {
        (user_id, kind): mail
        for user_id, kind, mail in NoticePreference.objects.filter(
            user__in=[membership.user_id for membership in memberships]
        ).values_list("user_id", "kind", "mail")
    }
    found: dict[tuple[int, str], list[str]] = {}
    for membership in memberships:
        for kind in NoticeKind.values:
            if chosen.get((membership.user_id, kind), mail_default(membership)):
                found.setdefault((membership.partner_id, kind), []).append(membership.user.email)
    return found
