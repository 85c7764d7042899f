"""Random and hostile values posted to every form, filter, API write and import: always a 4xx with
the reason or a clean success, never a server error, and a refused request changes nothing.

Each target starts from a valid request and replaces some of its fields with hostile values
(over-long and odd unicode text, markup and script, SQL and template syntax, negative and huge
numbers, impossible dates, wrong time zones, NUL bytes, nested JSON). HOSTILE_EXAMPLES per target.
"""

from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_access_matrix import world  # noqa: F401 (the fixture: a partner with a ticket, a claim, …)

HOSTILE_EXAMPLES = 40

NASTY = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "'; DROP TABLE support_ticket; --",
    "' OR '1'='1",
    "{{ 7*7 }}{% debug %}",
    "${jndi:ldap://example.test/a}",
    "../../../../etc/passwd",
    "\u202eevil\u202c",
    "\x00",
    "a\x00b",
    "\ufeff",
    "🙂" * 300,
    "ﷺ" * 100,
    "-1",
    "0",
    "-99999999999999999999",
    "99999999999999999999999999",
    "1e309",
    "NaN",
    "Infinity",
    "2026-02-30",
    "0000-00-00",
    "9999-12-31",
    "2026-11-30T25:61:00+99:00",
    "2026-11-30T10:00:00 Mars/Olympus",
    "4942-05-19T23:23:20.6-16:20",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "Europe/Nowhere",
    # Months far outside what reports show, and export formats offered or not.
    "0001-01",
    "9999-12",
    "1899-12",
    "2100-01",
    "2026-00",
    "xlsx",
    "ods",
    "xls",
    "latex",
    "tsv",
    "json",
    "yaml",
    "",
    " ",
    "\r\n",
    "null",
    "true",
]
TEXT = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=80),
    st.integers(min_value=201, max_value=30_000).map(lambda n: "x" * n),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
JSON_VALUE = st.one_of(
    TEXT,
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
)

# Rows that a refused request must leave as they were.
WATCHED = [
    "support.Ticket",
    "support.TicketEvent",
    "support.TicketAttachment",
    "support.Escalation",
    "support.CsatResponse",
    "support.ActionItem",
    "support.IdempotencyKey",
    "programs.Membership",
    "programs.Invitation",
    "programs.ApiToken",
    "programs.MetricValue",
    "programs.MetricImport",
    "programs.User",
    "tiering.AccountClaim",
    "tiering.Engagement",
    "programs.WebhookEndpoint",
    "programs.WebhookMessage",
    "programs.WebhookDelivery",
    "tiering.NoticePreference",
]


def counts() -> dict[str, int]:
    return {name: apps.get_model(name).objects.count() for name in WATCHED}


@dataclass
class Target:
    name: str
    persona: str
    url: object  # callable(world) -> str
    valid: dict
    method: str = "post"  # post (form), get (query string), json / json-patch (API, with a token), api-get
    extra: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)  # field name -> a strategy of its own hostile values


# Webhook addresses: other schemes, credentials, loopback and private addresses as IP literals of
# both families and in odd spellings, names that resolve to 127.0.0.1 (not allowed here), cloud
# metadata, bad ports, 10,000 characters. Only hooks.partner.test is allowed (without resolving).
HOOK_URLS = st.one_of(
    st.sampled_from(
        [
            "ftp://hooks.partner.test/events",
            "file:///etc/passwd",
            "gopher://hooks.partner.test:70/_GET",
            "javascript:alert(1)",
            "//hooks.partner.test/events",
            "https://user:secret@hooks.partner.test/events",
            "http://localhost/events",
            "http://localhost.:8000/events",
            "http://127.0.0.1/events",
            "http://127.1/events",
            "http://2130706433/events",
            "http://0x7f000001/events",
            "http://0.0.0.0/events",
            "http://10.0.0.5/events",
            "http://192.168.1.1/events",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/events",
            "http://[::ffff:127.0.0.1]/events",
            "http://[fe80::1%25eth0]/events",
            "http://[fd00::1]/events",
            "http://[::1/events",
            "https://hooks.partner.test:99999/events",
            "https://hooks.partner.test:0/events",
            "https://exa mple.test/events",
            "https://例え.テスト/events",
            "https://hooks.partner.test/" + "x" * 10_000,
            "https://" + "a" * 10_000 + ".test/",
            "https://hooks.partner.test/\x00",
        ]
    ),
    TEXT,
)
EVENT_LISTS = st.one_of(
    JSON_VALUE,
    st.lists(st.sampled_from(["ticket.created", "webhook.test", "ticket.*", "", "TIER.CHANGED"]), max_size=60),
    st.lists(st.integers(), max_size=3),
    st.lists(st.lists(st.text(max_size=3), max_size=2), max_size=2),
)
HOOK = {"url": "https://hooks.partner.test/events", "event_types": ["ticket.created"], "description": "ServiceNow"}
HOOK_VALUES = {"url": HOOK_URLS, "event_types": EVENT_LISTS, "secret": JSON_VALUE}


def _ticket_url(suffix=""):
    return lambda w: f"/tickets/{w['ticket'].pk}/{suffix}"


def _api_ticket_url(suffix=""):
    return lambda w: f"/api/v1/tickets/{w['ticket'].pk}/{suffix}"


TICKET = {
    "title": "Checkout fails",
    "severity": "P2",
    "category": "defect",
    "customer_name": "Acme",
    "environment": "production",
    "environment_details": "EU",
    "steps_to_reproduce": "Pay",
    "business_impact": "Orders lost",
}

TARGETS = [
    Target("sign in", "anonymous", lambda w: reverse("login"), {"username": "member@northwind.test", "password": "x"}),
    Target(
        "password change",
        "partner_member",
        lambda w: reverse("password_change"),
        {"old_password": "password", "new_password1": "A-long-new-pass-42", "new_password2": "A-long-new-pass-42"},
    ),
    Target(
        "accept invitation",
        "anonymous",
        lambda w: reverse("accept_invitation", args=[w["pending_invitation"].token]),
        {"full_name": "New Colleague", "password1": "A-long-new-pass-42", "password2": "A-long-new-pass-42"},
    ),
    Target(
        "invite member",
        "partner_admin",
        lambda w: reverse("invite_member"),
        {"email": "x@northwind.test", "full_name": "X", "role": "member"},
    ),
    Target("file a ticket", "partner_member", lambda w: reverse("ticket_new"), {**TICKET, "suggested_for": "checkout"}),
    Target("comment", "partner_member", _ticket_url("comment/"), {"body": "Any news?"}),
    Target("staff note", "support_l1", _ticket_url("comment/"), {"body": "Note", "internal": "on"}),
    Target("status change", "support_l1", _ticket_url("actions/acknowledge/"), {"message": "On it"}),
    Target("severity", "support_l1", _ticket_url("severity/"), {"severity": "P1", "reason": "Down"}),
    Target("escalate", "support_l1", _ticket_url("escalate/"), {"rank": "2", "reason": "Needs L2"}),
    Target("escalation request", "partner_member", _ticket_url("request-escalation/"), {"reason": "Urgent"}),
    Target("rate", "partner_member", _ticket_url("rate/"), {"score": "5", "comment": "Thanks"}),
    Target(
        "action item",
        "support_manager",
        lambda w: reverse("add_action_item", args=[w["partner"].pk]),
        {"description": "Call them", "due_on": "2026-12-01"},
    ),
    Target(
        "close action item",
        "support_manager",
        lambda w: reverse("close_action_item", args=[w["action_item"].pk]),
        {"outcome": "Done"},
    ),
    Target("claim account", "partner_admin", lambda w: reverse("account_claims"), {"account_name": "Initech"}),
    Target(
        "log engagement",
        "partner_admin",
        lambda w: reverse("log_engagement", args=[w["claim"].pk]),
        {"note": "Demo given"},
    ),
    Target("API token", "partner_member", lambda w: reverse("api_tokens"), {"name": "Sync"}),
    Target(
        "queue filters",
        "support_l1",
        lambda w: reverse("queue"),
        {
            "status": "open",
            "severity": "P1",
            "sla_state": "breached",
            "page": "1",
            "per_page": "50",
            "_export": "csv",
            "q": "#1 checkout",
            "view": "breaching",
        },
        method="get",
    ),
    Target(
        "queue bulk action", "support_l1", lambda w: reverse("queue_bulk"), {"action": "assign_to_me", "tickets": "1"}
    ),
    Target("knowledge base search", "partner_member", lambda w: reverse("kb_index"), {"q": "checkout"}, method="get"),
    Target("suggest", "partner_member", lambda w: reverse("kb_suggest"), {"q": "checkout"}, method="get"),
    Target("scoreboard month", "support_manager", lambda w: reverse("scoreboard"), {"month": "2026-11"}, method="get"),
    Target(
        "monthly review",
        "support_manager",
        lambda w: reverse("monthly_review", args=[w["partner"].pk]),
        {"month": "2026-11", "format": "csv"},
        method="get",
    ),
    Target("API: file a ticket", "partner_member", lambda w: "/api/v1/tickets/", TICKET, method="json"),
    Target("API: comment", "partner_member", _api_ticket_url("comments/"), {"body": "Hi"}, method="json"),
    Target("API: status change", "support_l1", _api_ticket_url("transitions/"), {"action": "start"}, method="json"),
    Target(
        "API: escalation request",
        "partner_member",
        _api_ticket_url("escalation-requests/"),
        {"reason": "Now"},
        method="json",
    ),
    Target(
        "API: ticket filters",
        "support_l1",
        lambda w: "/api/v1/tickets/",
        {"received_after": "2026-11-01T00:00:00Z", "severity": "P1", "ordering": "-severity", "page_size": "10"},
        method="api-get",
    ),
    Target(
        "API: scoreboard", "support_manager", lambda w: "/api/v1/scoreboard/", {"month": "2026-11"}, method="api-get"
    ),
    Target("API: search", "partner_member", lambda w: "/api/v1/kb/search/", {"q": "checkout"}, method="api-get"),
    Target(
        "notices by mail",
        "partner_member",
        lambda w: reverse("notice_preferences"),
        {"kinds": ["tier_changed", "at_risk"]},
    ),
    Target(
        "webhook endpoint",
        "partner_admin",
        lambda w: reverse("webhooks"),
        {**HOOK, "event_types": "ticket.created"},
        values={"url": HOOK_URLS},
    ),
    Target(
        "webhook change",
        "partner_admin",
        lambda w: reverse("webhook_detail", args=[w["endpoint"].pk]),
        {**HOOK, "event_types": "ticket.created"},
        values={"url": HOOK_URLS},
    ),
    Target(
        "webhook log filter",
        "partner_admin",
        lambda w: reverse("webhook_detail", args=[w["endpoint"].pk]),
        {"state": "failed", "page": "2"},
        method="get",
    ),
    Target(
        "API: webhook endpoint",
        "partner_admin",
        lambda w: "/api/v1/webhooks/",
        {**HOOK, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
        method="json",
        values=HOOK_VALUES,
    ),
    Target(
        "API: webhook change",
        "partner_admin",
        lambda w: f"/api/v1/webhooks/{w['endpoint'].pk}/",
        {**HOOK, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "is_active": False},
        method="json-patch",
        values=HOOK_VALUES,
    ),
    Target(
        "API: webhook state",
        "partner_admin",
        lambda w: f"/api/v1/webhooks/{w['endpoint'].pk}/state/",
        {"is_active": False},
        method="json",
    ),
    Target(
        "API: webhook deliveries",
        "partner_admin",
        lambda w: f"/api/v1/webhooks/{w['endpoint'].pk}/deliveries/",
        {"state": "pending", "page": "1"},
        method="api-get",
    ),
]


def _send(target, client, url, data, headers):
    if target.method == "post":
        return client.post(url, data)
    if target.method == "get":
        return client.get(url, data)
    if target.method == "api-get":
        return client.get(url, data, headers=headers)
    if target.method == "json-patch":
        return client.patch(url, data, content_type="application/json", headers=headers)
    return client.post(url, data, content_type="application/json", headers=headers)


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_hostile_values_get_a_clear_answer_and_change_nothing_when_refused(target, world, request, settings):  # noqa: F811
    from programs.services import create_api_token

    settings.API_THROTTLE_RATE = "100000/minute"
    settings.AXES_ENABLED = False  # lockout after repeated failures is tested on its own
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.partner.test"]  # and not 127.0.0.1 or localhost
    user = request.getfixturevalue(target.persona)
    client = Client(raise_request_exception=False)
    headers = {}
    if target.method in ("json", "json-patch", "api-get"):
        headers["authorization"] = "Bearer " + create_api_token(user, name="Hostile")[1]
    elif user is not None:
        client.force_login(user)
    url = target.url(world)
    values = JSON_VALUE if target.method.startswith("json") else TEXT

    @settings_for_examples
    @given(st.data())
    def check(data):
        chosen = data.draw(st.lists(st.sampled_from(sorted(target.valid)), min_size=1, unique=True), label="fields")
        payload = {**target.valid, **{name: data.draw(target.values.get(name, values), label=name) for name in chosen}}
        if data.draw(st.booleans(), label="unknown field"):
            payload[data.draw(st.text(min_size=1, max_size=20), label="name")] = data.draw(values, label="junk")
        before = counts()
        response = _send(target, client, url, payload, headers)
        assert response.status_code < 500, f"{target.name}: {response.status_code} for {payload!r}"
        if response.status_code >= 400:
            assert counts() == before, f"{target.name}: a refused request ({response.status_code}) wrote rows"

    check()


settings_for_examples = settings(
    max_examples=HOSTILE_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

CSV_LINE = st.lists(
    st.one_of(
        st.sampled_from(NASTY), st.text(max_size=30), st.sampled_from(["northwind", "arr_sourced", "2026-11-01"])
    ),
    min_size=0,
    max_size=6,
)


@settings_for_examples
@given(
    header=st.one_of(st.just("partner,metric,recorded_on,value"), st.text(max_size=60)),
    rows=st.lists(CSV_LINE, max_size=6),
    encoding=st.sampled_from(["utf-8", "utf-16", "latin-1", "utf-8-sig"]),
    name=st.sampled_from(["values.csv", "values.xlsx", "../../x.csv", "💥.csv", "x" * 300]),
)
def test_a_hostile_metric_csv_is_refused_with_reasons_or_imported_whole(
    header, rows, encoding, name, program_manager, partner
):
    import csv
    import io

    from django.core.exceptions import ValidationError

    from programs.models import Metric, MetricValue
    from programs.services import import_metric_values

    Metric.objects.get_or_create(
        key="arr_sourced", defaults={"name": "ARR sourced", "unit": "currency", "aggregation": "sum"}
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
    content = (header + "\n" + buffer.getvalue()).encode(encoding, errors="replace")
    before = MetricValue.objects.count()
    try:
        batch = import_metric_values(content, file_name=name, by=program_manager)
    except ValidationError as error:
        assert error.messages[0].startswith("Nothing was imported") or error.messages
        assert MetricValue.objects.count() == before
    else:
        assert batch.row_count == len(rows)


def test_the_metric_import_page_refuses_a_binary_file_with_a_field_error(client, program_manager):
    client.force_login(program_manager)
    upload = SimpleUploadedFile("values.csv", b"\x89PNG\r\n\x1a\n\x00\x00binary")
    response = client.post(reverse("admin:programs_metricvalue_import"), {"file": upload})
    assert response.status_code == 400
    assert response.context["form"].errors["file"]


# Upload names: longer than a file system takes (in bytes, several scripts), path and control
# characters, names that are only an extension or a dot.
FILE_NAMES = st.one_of(
    st.sampled_from(["../../etc/passwd.log", "a/b\\c.log", ".log", " .log", "x\u202e.gol.log", "CON.log"]),
    st.integers(min_value=200, max_value=400).map(lambda n: "x" * n + ".log"),
    st.integers(min_value=60, max_value=150).map(lambda n: "报告" * n + ".log"),
    st.text(min_size=1, max_size=120).map(lambda stem: stem + ".log"),
)
UPLOADS = [
    ("page: new ticket", "partner_member", lambda w: reverse("ticket_new"), {**TICKET}, "attachments", "post"),
    ("page: reply", "partner_member", _ticket_url("comment/"), {"body": "Logs"}, "attachments", "post"),
    ("API: attach", "partner_member", _api_ticket_url("attachments/"), {}, "file", "api-multipart"),
]


@pytest.mark.parametrize("upload", UPLOADS, ids=[u[0] for u in UPLOADS])
def test_odd_and_long_file_names_on_every_upload_get_a_clear_answer(upload, world, request, settings, tmp_path):  # noqa: F811
    from programs.services import create_api_token

    name, persona, url_of, fields, file_field, method = upload
    settings.MEDIA_ROOT = tmp_path
    settings.API_THROTTLE_RATE = "100000/minute"
    user = request.getfixturevalue(persona)
    client = Client(raise_request_exception=False)
    headers = {}
    if method == "api-multipart":
        headers["authorization"] = "Bearer " + create_api_token(user, name="Hostile")[1]
    else:
        client.force_login(user)
    url = url_of(world)

    @settings_for_examples
    @given(file_name=FILE_NAMES)
    def check(file_name):
        before = counts()
        payload = {**fields, file_field: SimpleUploadedFile(file_name, b"ERROR 500 at /checkout\n")}
        response = client.post(url, payload, headers=headers)
        assert response.status_code < 500, f"{name}: {response.status_code} for {file_name!r}"
        if response.status_code >= 400:
            assert counts() == before, f"{name}: a refused upload ({response.status_code}) wrote rows"

    check()
