"""The audit trail is written by PostgreSQL triggers, so it sees bulk writes as well as saves."""

import pytest
from django.db import connection
from django.urls import reverse

from programs import services
from programs.models import Partner
from tests.factories import PartnerFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="trigger-based audit runs on PostgreSQL"),
]


def events(model_name):
    from django.apps import apps

    return apps.get_model("programs", f"{model_name}Event").objects.order_by("pgh_id")


def test_a_bulk_update_is_recorded_row_by_row():
    PartnerFactory.create_batch(3)
    Partner.objects.update(status=Partner.Status.SUSPENDED)
    updates = events("Partner").filter(pgh_label="update")
    assert updates.count() == 3
    assert set(updates.values_list("status", flat=True)) == {"suspended"}


def test_a_change_through_a_page_records_who_made_it_and_where(client, partner_admin, partner_member):
    client.force_login(partner_admin)
    client.post(reverse("remove_member", args=[partner_member.membership.pk]))
    deletion = events("Membership").get(pgh_label="delete")
    assert deletion.user_id == partner_member.pk
    assert deletion.pgh_context.metadata["user"] == partner_admin.pk
    assert deletion.pgh_context.metadata["url"] == reverse("remove_member", args=[partner_member.membership.pk])
    assert deletion.pgh_context.metadata["action"] == "remove_member"
    deactivation = events("User").filter(pgh_obj_id=partner_member.pk, pgh_label="update").last()
    assert deactivation.is_active is False


def test_a_service_called_outside_a_request_labels_its_changes(partner_admin, partner):
    invitation, _ = services.invite_member(
        partner, email="audited@example.test", role="member", by=partner_admin, base_url="http://testserver"
    )
    insert = events("Invitation").get(pgh_label="insert")
    assert insert.pgh_obj_id == invitation.pk
    assert insert.pgh_context.metadata == {"action": "invite_member", "actor": partner_admin.pk}


def test_passwords_are_never_copied_into_the_trail():
    field_names = {field.name for field in events("User").model._meta.get_fields()}
    assert "password" not in field_names


def test_a_change_through_the_api_records_the_tokens_person(api_client_for, partner_member, plan):
    from django.apps import apps

    from programs.models import ApiToken
    from tests.factories import TICKET_INTAKE

    client = api_client_for(partner_member)
    response = client.post("/api/v1/tickets/", {**TICKET_INTAKE, "title": "Audited", "severity": "P3"}, format="json")
    token = ApiToken.objects.get(user=partner_member)
    insert = apps.get_model("support", "TicketHistory").objects.get(
        pgh_obj_id=response.json()["id"], pgh_label="insert"
    )
    assert insert.pgh_context.metadata["user"] == partner_member.pk
    assert insert.pgh_context.metadata["api_token"] == token.pk
    assert insert.pgh_context.metadata["url"] == "/api/v1/tickets/"
    assert insert.pgh_context.metadata["action"] == "open_ticket"


def test_using_a_token_writes_no_history(api_client_for, partner_member):
    client = api_client_for(partner_member)
    client.get("/api/v1/me/")
    assert list(events("ApiToken").values_list("pgh_label", flat=True)) == ["insert"]
