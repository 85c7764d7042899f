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


def test_an_admin_change_to_support_hours_records_who_made_it(client, support_manager):
    from datetime import date

    from django.apps import apps

    from support.models import BusinessCalendar, CalendarHoliday

    calendar = BusinessCalendar.objects.create(name="EU hours", time_zone="Europe/Berlin")
    holiday = CalendarHoliday.objects.create(calendar=calendar, date=date(2026, 12, 24), name="Christmas Eve")
    client.force_login(support_manager)
    response = client.post(f"/admin/support/businesscalendar/{calendar.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not CalendarHoliday.objects.filter(pk=holiday.pk).exists()
    deletion = apps.get_model("support", "CalendarHolidayEvent").objects.get(pgh_label="delete")
    assert (deletion.name, deletion.date) == ("Christmas Eve", date(2026, 12, 24))
    assert deletion.pgh_context.metadata["user"] == support_manager.pk
    assert deletion.pgh_created_at is not None


def test_counting_article_views_writes_no_history(client, partner_member):
    from django.apps import apps

    from tests.factories import article

    page = article("Refund runbook")
    client.force_login(partner_member)
    client.get(f"/kb/{page.slug}/")
    labels = apps.get_model("support", "ArticleEvent").objects.values_list("pgh_label", flat=True)
    assert list(labels) == ["insert"]
