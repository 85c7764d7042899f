from urllib.parse import urlparse

import requests
from playwright.sync_api import expect

from .conftest import sign_in


def call(base, path, token, body=None, key=None):
    """Call the API as an integration would (outside the browser), returning (status, JSON)."""
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    if body is None:
        response = requests.get(base + path, headers=headers, timeout=30)
    else:
        response = requests.post(base + path, json=body, headers=headers, timeout=30)
    return response.status_code, response.json()


def test_a_partner_admin_creates_a_token_files_a_ticket_with_it_and_revokes_it(live_server, demo, page, screenshot):
    base = live_server.url
    # Nothing leaves the machine: the interactive docs must work from the portal's own files.
    outside = []
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if urlparse(route.request.url).netloc == urlparse(base).netloc
            else (outside.append(route.request.url), route.abort())
        ),
    )
    sign_in(page, base, "partner-admin@demo.test")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("ServiceNow sync")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_test_id("token-secret").inner_text().strip()
    assert token.startswith("pp_")
    screenshot(page, "api-token-created")

    ticket = {
        "title": "Refunds stuck for EU cards",
        "severity": "P2",
        "category": "defect",
        "customer_name": "Acme Retail GmbH",
        "environment": "production",
        "steps_to_reproduce": "Refund an EU card payment.",
        "business_impact": "Refunds stuck.",
    }
    status, filed = call(base, "/api/v1/tickets/", token, ticket, key="INC0012345")
    assert status == 201 and filed["sla"]["state"] == "ok"
    status, again = call(base, "/api/v1/tickets/", token, ticket, key="INC0012345")
    assert status == 200 and again["id"] == filed["id"]

    page.goto(f"{base}/tickets/")
    expect(page.get_by_role("link", name="Refunds stuck for EU cards")).to_have_count(1)

    page.goto(f"{base}/account/api-tokens/")
    row = page.get_by_role("row", name="ServiceNow sync")
    expect(row).not_to_contain_text("Never")  # its last use shows
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status")).to_contain_text("is revoked")
    status, refused = call(base, "/api/v1/me/", token)
    assert status == 401 and refused["code"] == "authentication_failed"

    page.goto(f"{base}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Partner Portal API")
    expect(page.get_by_text("/api/v1/tickets/{id}/transitions/")).to_be_visible()
    screenshot(page, "api-docs")
    assert outside == []
