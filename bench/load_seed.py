"""Seed a PostgreSQL database for the load test: 1,000 partners, 100,000 tickets, people to sign in as.

Usage (creates its own database, partnerportal_bench):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/partnerportal_bench .venv/bin/python bench/load_seed.py

Partner people `load-partner-<n>@load.test` (n = 1…1000, one per partner) and support agents
`load-agent-<n>@load.test` (n = 1…20) all sign in with the password in bench/load_people.py; agents also enter a
code from an authenticator whose key is derived from their address.
Each partner has 100 tickets received over the last year; 5 % of them are still open.
"""

import time

from common import setup_database
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from load_people import PASSWORD, agent_email, agent_totp_key, partner_email

from programs.models import Membership, Partner, PartnerMotion, StaffRole, User
from support.models import Ticket
from tests.factories import TICKET_INTAKE, MotionFactory, entitle, staff_user, support_plan
from tiering.models import Standing

PARTNERS = 1000
TICKETS_PER_PARTNER = 100
AGENTS = 20
COPY_COLUMNS = [f.column for f in Ticket._meta.concrete_fields if f.column not in {"id", "partner_id", "submitter_id"}]


def seed():
    started = time.perf_counter()
    setup_database()
    plan = support_plan()
    password = make_password(PASSWORD)
    with transaction.atomic():
        partners = Partner.objects.bulk_create(
            Partner(name=f"Load partner {n:04}", slug=f"load-{n:04}", country="US") for n in range(1, PARTNERS + 1)
        )
        users = User.objects.bulk_create(
            User(email=partner_email(n), full_name=f"Partner person {n}", password=password)
            for n in range(1, PARTNERS + 1)
        )
        Membership.objects.bulk_create(
            Membership(partner=partner, user=user, role=Membership.Role.ADMIN)
            for partner, user in zip(partners, users, strict=True)
        )
        # Every partner on the same tier (and so the same plan): one standing each.
        tier = entitle(partners[0], plan)
        motion = MotionFactory(slug="resale")
        PartnerMotion.objects.bulk_create(PartnerMotion(partner=p, motion=motion) for p in partners[1:])
        Standing.objects.bulk_create(
            Standing(partner=p, ladder=tier.ladder, tier=tier, since=timezone.localdate()) for p in partners[1:]
        )
    for n in range(1, AGENTS + 1):
        agent = staff_user(StaffRole.SUPPORT_L1, email=agent_email(n))
        agent.password = password
        agent.save(update_fields=["password"])
        # Staff pass a second factor: an authenticator whose key Locust can derive (bench/load_people.py).
        TOTPDevice.objects.create(user=agent, name="Load test", key=agent_totp_key(agent.email), confirmed=True)
    from support.tickets import lifecycle

    template = lifecycle.open_ticket(
        partners[0], submitter=users[0], title="Checkout returns 500 for EU cards", severity="P3", **TICKET_INTAKE
    )
    columns = ", ".join(COPY_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # fixtures: no audit rows
        cursor.execute(
            f"""
            INSERT INTO support_ticket ({columns}, partner_id, submitter_id)
            SELECT {columns}, m.partner_id, m.user_id
            FROM support_ticket t, programs_membership m, generate_series(1, %s) AS g
            WHERE t.id = %s
            """,
            [TICKETS_PER_PARTNER, template.pk],
        )
        cursor.execute("DELETE FROM support_ticket WHERE id = %s", [template.pk])
        # Spread over the last year; 95 % resolved an hour after they came in.
        cursor.execute(
            """
            UPDATE support_ticket SET
                received_at = now() - (id % 365 || ' days')::interval - (id % 1440 || ' minutes')::interval,
                status = CASE WHEN id % 20 = 0 THEN status ELSE 'resolved' END
            """
        )
        cursor.execute(
            """
            UPDATE support_ticket SET resolved_at = received_at + interval '1 hour', next_due_at = NULL,
                   next_sla_check_at = NULL
            WHERE status = 'resolved'
            """
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("VACUUM ANALYZE support_ticket")
    print(
        f"seeded {Partner.objects.count():,} partners, {Ticket.objects.count():,} tickets "
        f"({Ticket.objects.open().count():,} open), {AGENTS} agents in {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    seed()
