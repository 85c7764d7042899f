"""Program notices: a re-tier's moves and pending drops, an applied drop, a published policy (with
where each partner would land), a tier at risk before the re-tier, claims about to end and ended;
on the partner's home and notices page, by mail to the people who want them."""

import datetime as dt
import smtplib

from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse

from partnerportal.models import Heartbeat
from tests.factories import PartnerFactory
from tiering import downgrades, notices, policies
from tiering.claims import release_claim, release_stale_claims
from tiering.models import AccountClaim, Engagement, Notice, Policy, RetierRun, Standing

from .conftest import TODAY, run_retier

LAST_YEAR = TODAY - dt.timedelta(days=365)


def told(partner, kind=None):
    found = Notice.objects.filter(partner=partner).order_by("pk")
    return list(found.filter(kind=kind) if kind else found)


def mailed_to(*people):
    return sorted(address for message in mail.outbox for address in message.to if address in people)


def test_an_upgrade_is_noticed_with_its_reason_and_mailed_to_the_admin_only(
    resale, record, partner, partner_admin, partner_member, client, django_capture_on_commit_callbacks
):
    record(partner, arr=60_000, sellers=4, certs=1, on=LAST_YEAR - dt.timedelta(days=10))
    run_retier(LAST_YEAR)
    record(partner, arr=300_000, on=TODAY - dt.timedelta(days=10))
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        run_retier()

    [upgrade] = told(partner, "tier_changed")[-1:]
    assert upgrade.title == "Resale partners: Selling → Specialist"
    assert "Why: Meets Specialist: ARR sourced $300,000 ≥ $250,000" in upgrade.body
    assert set(mailed_to(partner_admin.email, partner_member.email)) == {partner_admin.email}
    assert any(message.subject.endswith("Selling → Specialist") for message in mail.outbox)
    assert Notice.objects.get(pk=upgrade.pk).mailed_at is not None

    client.force_login(partner_member)
    home = client.get(reverse("home")).content.decode()
    assert "Program notices" in home and "Selling → Specialist" in home
    assert "Selling → Specialist" in client.get(reverse("notices")).content.decode()


def test_a_pending_drop_names_the_date_and_the_conversation_and_the_drop_is_noticed_when_applied(
    resale, record, partner, program_manager
):
    record(partner, arr=300_000, sellers=4, certs=1, on=LAST_YEAR - dt.timedelta(days=10))
    run_retier(LAST_YEAR)
    record(partner, arr=60_000, sellers=4, on=TODAY - dt.timedelta(days=10))
    run_retier()
    run_retier()  # told once

    [pending] = told(partner, "drop_pending")
    assert pending.title == "Resale partners: Specialist kept until 23 February 2027"
    assert "Below Specialist" in pending.body and "talked it through with you" in pending.body

    standing = Standing.objects.get(partner=partner, ladder=resale.ladder)
    downgrades.record_downgrade_conversation(
        standing, by=program_manager, held_on=dt.date(2027, 3, 2), partner_contact="Dana", notes="Talked.",
        today=dt.date(2027, 3, 2),
    )  # fmt: skip
    drop = told(partner, "tier_changed")[-1]
    assert drop.title == "Resale partners: Specialist → Selling"
    assert "moved down" in drop.body and "conversation with Dana" in drop.body


def test_a_published_policy_tells_each_partner_of_the_motion_where_it_would_land(
    resale, record, partner, program_manager, django_capture_on_commit_callbacks
):
    record(partner, arr=60_000, sellers=4, certs=1)
    outsider = PartnerFactory()  # not in the resale motion
    draft = policies.draft_next_version(resale.policy, by=program_manager)
    Policy.objects.filter(pk=draft.pk).update(effective_from=TODAY + dt.timedelta(days=120))
    draft.criteria.filter(tier=resale.tiers["Selling"], metric=resale.metrics["arr"]).update(threshold=100_000)
    runs_before = RetierRun.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        policies.publish_policy(draft, by=program_manager, today=TODAY)

    [notice] = told(partner, "policy_published")
    assert notice.title == "New Resale partners criteria from 23 March 2027"
    assert "takes effect on 23 March 2027" in notice.body
    assert "you would land on Registered" in notice.body  # $60k no longer makes Selling
    assert not told(outsider)
    assert RetierRun.objects.count() == runs_before  # the what-if run is gone


def test_a_tier_at_risk_is_told_before_the_re_tier_once_and_not_to_a_pending_drop(resale, record, partner, settings):
    # $300k recorded in December: it counts today, and has left the window by the re-tier of 15 January.
    record(partner, arr=300_000, sellers=4, certs=1, on=dt.date(2025, 12, 20))
    steady = record(PartnerFactory(), arr=300_000, sellers=4, certs=1, on=TODAY - dt.timedelta(days=10))
    run_retier()
    assert Standing.objects.get(partner=partner).tier.name == "Specialist"

    assert notices.check_at_risk(TODAY, now=noon(TODAY)) == 1
    [risk] = told(partner, "at_risk")
    assert risk.title == "Resale partners: Specialist at risk at the re-tier of 15 January 2027"
    assert "would land on" in risk.body
    assert not told(steady, "at_risk")
    assert notices.check_at_risk(TODAY, now=noon(TODAY) + dt.timedelta(hours=1)) is None  # once a day
    assert not RetierRun.objects.filter(kind="dry_run").exists()

    tomorrow = TODAY + dt.timedelta(days=1)
    assert notices.check_at_risk(tomorrow, now=noon(tomorrow)) == 0  # found again, not told again
    assert Heartbeat.objects.get(name="at_risk_check").last_run_at == noon(tomorrow)
    assert len(told(partner, "at_risk")) == 1


def test_the_at_risk_check_waits_until_100_days_before_the_re_tier(resale, record, partner):
    record(partner, arr=300_000, sellers=4, certs=1, on=dt.date(2025, 12, 20))
    run_retier()
    early = dt.date(2026, 10, 6)  # 101 days before 15 January
    assert notices.check_at_risk(early, now=noon(early)) is None
    assert not told(partner, "at_risk")


def noon(day):
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


def claim_of(partner, name, *, claimed_at):
    return AccountClaim.objects.create(
        partner=partner, account_name=name, account_key=name.lower(), claimed_at=claimed_at,
        expires_at=claimed_at + dt.timedelta(days=90),
    )  # fmt: skip


def test_claims_about_to_end_and_ended_are_noticed(partner, partner_admin):
    now = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    ending = claim_of(partner, "Ending Ltd", claimed_at=now - dt.timedelta(days=85))
    Engagement.objects.create(claim=ending, logged_at=now - dt.timedelta(days=2), logged_by=partner_admin, note="Demo")
    quiet = claim_of(partner, "Quiet Ltd", claimed_at=now - dt.timedelta(days=25))
    claim_of(partner, "Fresh Ltd", claimed_at=now - dt.timedelta(days=1))

    assert notices.claims_expiring(now, engagement_days=30) == 2
    assert notices.claims_expiring(now, engagement_days=30) == 0  # a repeat writes nothing new
    soon = {notice.title: notice.body for notice in told(partner, "claim_expiring")}
    assert soon == {
        "Ending Ltd is released on 28 November 2026": "Your claim on Ending Ltd ends on 28 November 2026: its 90 days are over.",
        "Quiet Ltd is released on 28 November 2026": "Your claim on Quiet Ltd ends on 28 November 2026: no engagement "
        "logged for 30 days — log one to keep it.",
    }

    release_claim(quiet, reason=AccountClaim.Release.WITHDRAWN, by=partner_admin, now=now)
    release_stale_claims(now + dt.timedelta(days=5), engagement_days=30)
    assert [notice.title for notice in told(partner, "claim_released")] == [
        "Quiet Ltd is released",
        "Ending Ltd is released",
    ]


def test_each_person_picks_the_notices_they_get_by_mail(client, partner, partner_admin, partner_member):
    client.force_login(partner_member)
    page = client.get(reverse("notice_preferences"))
    assert page.status_code == 200 and page.context["form"].initial["kinds"] == []
    answer = client.post(reverse("notice_preferences"), {"kinds": ["tier_changed", "at_risk"]}, follow=True)
    assert "Saved" in answer.content.decode()
    assert notices.mail_choices(partner_member)["tier_changed"] is True
    assert notices.mail_choices(partner_member)["claim_released"] is False
    assert all(notices.mail_choices(partner_admin).values())  # admins: all by default

    refused = client.post(reverse("notice_preferences"), {"kinds": ["everything"]})
    assert refused.status_code == 400 and "not one of the available choices" in refused.content.decode()
    assert notices.mail_choices(partner_member)["tier_changed"] is True  # unchanged

    notices.post(
        [notices._notice(partner.pk, "tier_changed", "k1", "Moved", "Body", "/tiers/", notices.timezone.now()),
         notices._notice(partner.pk, "claim_released", "k2", "Released", "Body", "/tiers/accounts/", notices.timezone.now())]
    )  # fmt: skip
    mail.outbox.clear()
    assert notices.mail_due() == 2
    assert sorted(
        message.subject.split(": ", 1)[1] for message in mail.outbox if partner_member.email in message.to
    ) == ["Moved"]
    assert notices.mail_due() == 0  # once


def test_another_partners_notices_stay_hidden(client, partner, other_partner):
    notices.post(
        [notices._notice(partner.pk, "tier_changed", "k", "Northwind moved", "B", "/tiers/", notices.timezone.now())]
    )
    client.force_login(other_partner)
    assert "Northwind moved" not in client.get(reverse("notices")).content.decode()
    assert "Northwind moved" not in client.get(reverse("home")).content.decode()


class RefusingBackend(BaseEmailBackend):
    """A mail server that refuses one address and keeps the rest (in `mail.outbox`)."""

    def send_messages(self, messages):
        for message in messages:
            if any("refused" in address for address in message.to):
                raise smtplib.SMTPRecipientsRefused({message.to[0]: (550, b"No such user")})
            mail.outbox.append(message)
        return len(messages)


def test_an_address_the_mail_server_refuses_holds_back_nobody(partner, partner_admin, settings):
    from programs.models import Membership
    from tests.factories import UserFactory

    settings.EMAIL_BACKEND = "tests.tiering.test_notices.RefusingBackend"
    refused = UserFactory(email="refused@northwind.test")
    Membership.objects.create(partner=partner, user=refused, role="admin")
    notices.post([notices._notice(partner.pk, "tier_changed", "k", "Moved", "Body", "/tiers/", notices.timezone.now())])
    mail.outbox.clear()
    assert notices.mail_due() == 1
    assert [message.to for message in mail.outbox] == [[partner_admin.email]]
    assert Notice.objects.get().mailed_at is not None  # not sent again to everyone on the next sweep


def test_the_upkeep_tells_of_a_published_policy_whose_task_was_lost(resale, record, partner, program_manager):
    from tiering.upkeep import run_upkeep

    record(partner, arr=60_000, sellers=4, certs=1)
    draft = policies.draft_next_version(resale.policy, by=program_manager)
    Policy.objects.filter(pk=draft.pk).update(effective_from=TODAY + dt.timedelta(days=120))
    policies.publish_policy(draft, by=program_manager, today=TODAY)  # its on-commit task never ran
    assert not told(partner, "policy_published")
    run_upkeep(now=noon(TODAY))
    [notice] = told(partner, "policy_published")
    assert "you would land on Selling" in notice.body
    run_upkeep(now=noon(TODAY))
    assert len(told(partner, "policy_published")) == 1
