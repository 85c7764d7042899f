"""On PostgreSQL, retries of one ticket racing each other with the same Idempotency-Key file it once."""

import threading

import pytest
from django.db import connection

from support import services
from support.models import IdempotencyKey, Ticket
from tests.factories import TICKET_INTAKE

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"),
]
RETRIES = 8


def test_concurrent_retries_with_one_key_file_one_ticket(plan, partner, partner_member):
    start = threading.Barrier(RETRIES)
    answers, errors = [], []

    def retry():
        try:
            start.wait()
            answers.append(
                services.open_ticket_once(
                    partner,
                    submitter=partner_member,
                    key="sync-42",
                    title="Checkout down",
                    severity="P1",
                    **TICKET_INTAKE,
                )
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=retry) for _ in range(RETRIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert Ticket.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1
    ticket = Ticket.objects.get()
    assert {found.pk for found, _ in answers} == {ticket.pk}
    assert sorted(replayed for _, replayed in answers) == [False] + [True] * (RETRIES - 1)
    assert ticket.events.filter(kind="received").count() == 1
