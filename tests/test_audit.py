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
