import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from programs.models import Partner

pytestmark = pytest.mark.django_db


def test_a_program_manager_edits_partners_in_the_admin_and_the_change_is_logged(client, program_manager, partner):
    client.force_login(program_manager)
    url = reverse("admin:programs_partner_change", args=[partner.pk])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "name": "Northwind Resellers plc",
            "slug": partner.slug,
            "country": "GB",
            "time_zone": "Europe/London",
            "status": "active",
            "partner_motions-TOTAL_FORMS": "0",
            "partner_motions-INITIAL_FORMS": "0",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "standings-TOTAL_FORMS": "0",
            "standings-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    partner.refresh_from_db()
    assert partner.name == "Northwind Resellers plc"
    entry = LogEntry.objects.get(object_id=str(partner.pk))
    assert entry.user == program_manager


def test_the_admin_refuses_a_time_zone_that_does_not_exist(client, program_manager, partner):
    client.force_login(program_manager)
    response = client.post(
        reverse("admin:programs_partner_add"),
        {
            "name": "Nowhere Ltd",
            "slug": "nowhere",
            "country": "GB",
            "time_zone": "Mars/Olympus_Mons",
            "status": "active",
            "partner_motions-TOTAL_FORMS": "0",
            "partner_motions-INITIAL_FORMS": "0",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "is not an IANA time zone" in response.content.decode()
    assert not Partner.objects.filter(slug="nowhere").exists()


def test_a_support_manager_may_look_at_partners_but_not_change_them(client, support_manager, partner):
    client.force_login(support_manager)
    assert client.get(reverse("admin:programs_partner_changelist")).status_code == 200
    assert client.get(reverse("admin:programs_partner_add")).status_code == 403
    page = client.get(reverse("admin:programs_partner_change", args=[partner.pk])).content.decode()
    assert 'name="_save"' not in page


def test_staff_without_admin_access_are_sent_to_the_admin_login(client, support_l1):
    client.force_login(support_l1)
    response = client.get(reverse("admin:programs_partner_changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_partner_search_finds_by_name(client, program_manager, partner, other_partner_org):
    client.force_login(program_manager)
    page = client.get(reverse("admin:programs_partner_changelist"), {"q": "northwind"}).content.decode()
    assert "Northwind Resellers" in page and "Contoso" not in page


def test_the_partner_list_filters_by_the_countries_partners_are_in(client, superuser):
    from tests.factories import PartnerFactory

    PartnerFactory(name="Lisbon Partner", country="PT")
    PartnerFactory(name="Oslo Partner", country="NO")
    client.force_login(superuser)
    page = client.get(reverse("admin:programs_partner_changelist")).content.decode()
    assert "?country=PT" in page and "?country=NO" in page
    assert "?country=ZW" not in page  # not every country of the world
    filtered = client.get(reverse("admin:programs_partner_changelist"), {"country": "PT"}).content.decode()
    assert "Lisbon Partner" in filtered and "Oslo Partner" not in filtered
