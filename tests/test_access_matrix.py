"""The access matrix: every URL pattern of the project, for every persona.

URL patterns come from the resolver, not from a hand-written list, and each must have a rule in
RULES below (keyed by URL name). A new page without a rule fails `test_every_url_has_a_rule`, so
no page can be added without saying who may open it. Objects in the URLs belong to the partner
"Northwind"; the admin of another partner ("other_partner") must get 404 for them.
"""

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from partnerportal.health import record_beat, record_heartbeat
from tests.conftest import PERSONAS, STAFF_PERSONAS
from tiering.models import AccountClaim

PARTNER_PEOPLE = ("partner_admin", "partner_member", "other_partner")
ADMIN_SITE_PERSONAS = ("support_manager", "program_manager", "superuser")
EVERYONE = tuple(PERSONAS)


@dataclass(frozen=True)
class Redirect:
    """Expect a redirect whose target starts with `to` (a URL name or a path)."""

    to: str
    status: int = 302

    def matches(self, response) -> bool:
        target = self.to if self.to.startswith("/") else reverse(self.to)
        return response.status_code == self.status and response["Location"].startswith(target)

    def __repr__(self):
        return f"redirect to {self.to}"


LOGIN = Redirect("login")
CLAIMS = Redirect("account_claims")
ADMIN_LOGIN = Redirect("admin:login")


@dataclass(frozen=True)
class AnyOf:
    """Expect one of several outcomes (used only for the admin site, see admin_rule)."""

    statuses: tuple

    def matches(self, response) -> bool:
        return response.status_code in self.statuses

    def __repr__(self):
        return f"any of {self.statuses}"


def expect(default, **overrides) -> dict:
    return {persona: overrides.get(persona, default) for persona in PERSONAS}


def staff(value) -> dict:
    return dict.fromkeys((*STAFF_PERSONAS, "superuser"), value)


@dataclass
class Rule:
    get: dict | None
    post: dict | None = None
    kwargs: object = None  # callable(world) -> dict of URL kwargs
    post_data: object = field(default_factory=dict)  # or callable(world) -> dict, for files and objects
    query: str = ""  # appended to the URL of GET requests
    patch: dict | None = None
    delete: dict | None = None
    patch_data: dict = field(default_factory=dict)
    as_json: bool = False  # send POST and PATCH bodies as JSON (lists and booleans), not as a form


# The API: anonymous requests get 401, signed-in ones are authenticated by a personal token.
def api(value, **overrides) -> dict:
    return expect(value, anonymous=401, **overrides)


PARTNERS_ONLY = {"partner_admin": 200, "partner_member": 200, "other_partner": 200}


def _upload(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return {"file": SimpleUploadedFile("matrix.log", b"GET /checkout 500\n", content_type="text/plain")}


SUPPORT_STAFF = ("support_l1", "support_l2", "engineer", "support_manager", "superuser")


def support(value) -> dict:
    return dict.fromkeys(SUPPORT_STAFF, value)


def reviewers(value) -> dict:
    return dict.fromkeys(("support_manager", "program_manager", "superuser"), value)


def services_csat_token(ticket):
    from support.insight.csat import csat_token

    return csat_token(ticket)


def _ticket(world):
    return {"pk": world["ticket"].pk}


def _membership_of_member(world):
    return {"pk": world["partner_member"].membership.pk}


def _endpoint(world):
    return {"pk": world["endpoint"].pk}


def _delivery(world):
    return {"pk": world["endpoint"].pk, "delivery_pk": world["delivery"].pk}


PARTNER_ADMINS = {"partner_admin": 200, "other_partner": 200}
# The world's endpoint is Northwind's: its admin may act on it, another partner's admin finds nothing.
NORTHWIND_ADMIN_ONLY = {"partner_admin": 200, "other_partner": 404}
NEW_ENDPOINT = {"url": "http://127.0.0.1:9/matrix", "event_types": ["ticket.created"], "description": "Matrix"}


def _admin_page(value, **overrides) -> dict:
    return expect(403, anonymous=LOGIN, **{"partner_admin": value, "other_partner": 404, **overrides})


NEW_TICKET = {
    "title": "Matrix ticket",
    "severity": "P3",
    "category": "defect",
    "customer_name": "Acme",
    "environment": "production",
    "steps_to_reproduce": "Open it",
    "business_impact": "Some",
}

RULES = {
    "healthz": Rule(get=expect(200)),
    "ping": Rule(get=expect(200)),
    "favicon": Rule(get=expect(Redirect("/static/img/favicon", status=301))),
    "login": Rule(get=expect(200)),
    "logout": Rule(get=expect(405), post=expect(200)),
    "password_change": Rule(get=expect(200, anonymous=LOGIN)),
    "password_change_done": Rule(get=expect(200, anonymous=LOGIN)),
    "password_reset": Rule(get=expect(200)),
    "password_reset_done": Rule(get=expect(200)),
    "password_reset_confirm": Rule(get=expect(200), kwargs=lambda world: {"uidb64": "MQ", "token": "bad-token"}),
    "password_reset_complete": Rule(get=expect(200)),
    "home": Rule(get=expect(200, anonymous=LOGIN)),
    # Two-factor pages: everyone signed in manages their own (staff's is required, partners' optional).
    "two_factor": Rule(get=expect(200, anonymous=LOGIN)),
    "two_factor_setup": Rule(
        get=expect(200, anonymous=LOGIN), post=expect(400, anonymous=LOGIN), post_data={"code": "000000"}
    ),
    "two_factor_verify": Rule(
        get=expect(200, anonymous=LOGIN), post=expect(400, anonymous=LOGIN), post_data={"code": "000000"}
    ),
    # Partners here have no authenticator app: they are sent back to turn it on first.
    "two_factor_recovery_codes": Rule(
        get=expect(405), post=expect(200, anonymous=LOGIN, **dict.fromkeys(PARTNER_PEOPLE, Redirect("two_factor")))
    ),
    "two_factor_disable": Rule(get=expect(405), post=expect(Redirect("two_factor"), anonymous=LOGIN)),
    "invite_member": Rule(
        get=expect(200, anonymous=LOGIN, partner_member=403, **staff(403)),
        post=expect(Redirect("home"), anonymous=LOGIN, partner_member=403, **staff(403)),
        post_data={"email": "colleague@example.test", "role": "member"},
    ),
    "remove_member": Rule(
        get=expect(405),
        post=expect(403, anonymous=LOGIN, partner_admin=Redirect("home"), other_partner=404),
        kwargs=_membership_of_member,
    ),
    "revoke_invitation": Rule(
        get=expect(405),
        post=expect(403, anonymous=LOGIN, partner_admin=Redirect("home"), other_partner=404),
        kwargs=lambda world: {"pk": world["pending_invitation"].pk},
    ),
    "accept_invitation": Rule(get=expect(200), kwargs=lambda world: {"token": world["pending_invitation"].token}),
    "ticket_list": Rule(get=expect(200, anonymous=LOGIN, **staff(403))),
    "ticket_new": Rule(
        get=expect(200, anonymous=LOGIN, **staff(403)),
        post=expect(Redirect("/tickets/"), anonymous=LOGIN, **staff(403)),
        post_data=NEW_TICKET,
    ),
    "ticket_detail": Rule(get=expect(200, anonymous=LOGIN, other_partner=404), kwargs=_ticket),
    "ticket_comment": Rule(
        get=expect(405),
        post=expect(Redirect("/tickets/"), anonymous=LOGIN, other_partner=404, program_manager=403),
        post_data={"body": "Any news?"},
        kwargs=_ticket,
    ),
    "ticket_action": Rule(
        get=expect(405),
        post=expect(403, anonymous=LOGIN, other_partner=404, **support(Redirect("/tickets/"))),
        kwargs=lambda world: {"pk": world["ticket"].pk, "action": "acknowledge"},
    ),
    "ticket_severity": Rule(
        get=expect(405),
        post=expect(403, anonymous=LOGIN, **support(Redirect("/tickets/"))),
        post_data={"severity": "P1", "reason": "Everything is down"},
        kwargs=_ticket,
    ),
    "ticket_assign_to_me": Rule(
        get=expect(405), post=expect(403, anonymous=LOGIN, **support(Redirect("/tickets/"))), kwargs=_ticket
    ),
    "attachment_download": Rule(
        get=expect(200, anonymous=LOGIN, other_partner=404),
        kwargs=lambda world: {"pk": world["ticket"].pk, "attachment_pk": world["attachment"].pk},
    ),
    "queue": Rule(get=expect(403, anonymous=LOGIN, **support(200))),
    "queue_bulk": Rule(
        get=expect(405),
        post=expect(403, anonymous=LOGIN, **support(Redirect("/queue/"))),
        post_data=lambda world: {"action": "assign_to_me", "tickets": [world["ticket"].pk]},
    ),
    "oncall": Rule(get=expect(403, anonymous=LOGIN, **support(200))),
    # The world's plan has no escalation policy: staff get the form back (no level to choose), and
    # partners are told their plan does not include escalation requests.
    "ticket_escalate": Rule(
        get=expect(405),
        post=expect(403, anonymous=LOGIN, **support(400)),
        post_data={"rank": "2", "reason": "Needs L2"},
        kwargs=_ticket,
    ),
    "ticket_request_escalation": Rule(
        get=expect(405),
        post=expect(403, anonymous=LOGIN, partner_admin=400, partner_member=400, other_partner=404),
        post_data={"reason": "Orders failing"},
        kwargs=_ticket,
    ),
    "ticket_rate": Rule(
        get=expect(405, anonymous=LOGIN, **staff(403)),
        # The world's ticket is still open: partners are told it can be rated once resolved.
        post=expect(400, anonymous=LOGIN, other_partner=404, **staff(403)),
        post_data={"score": "5"},
        kwargs=_ticket,
    ),
    "csat_link": Rule(
        get=expect(200),
        post=expect(400),
        post_data={"score": "5"},
        kwargs=lambda world: {"token": services_csat_token(world["ticket"])},
    ),
    "kb_index": Rule(get=expect(200)),
    "kb_suggest": Rule(get=expect(200)),
    "kb_article": Rule(get=expect(200, anonymous=404), kwargs=lambda world: {"slug": world["article"].slug}),
    "kb_solved": Rule(
        get=expect(405, anonymous=LOGIN, **staff(403)),
        # Articles are the provider's, not a partner's: any partner may say one solved its issue.
        post=expect(Redirect("ticket_list"), anonymous=LOGIN, **staff(403)),
        kwargs=lambda world: {"slug": world["article"].slug},
    ),
    "scoreboard": Rule(get=expect(403, anonymous=LOGIN, **staff(200))),
    "tier_report": Rule(get=expect(403, anonymous=LOGIN, **staff(200))),
    "monthly_review": Rule(
        get=expect(403, anonymous=LOGIN, **staff(200)), kwargs=lambda world: {"partner_pk": world["partner"].pk}
    ),
    "add_action_item": Rule(
        get=expect(403, anonymous=LOGIN, **reviewers(405)),
        post=expect(403, anonymous=LOGIN, **reviewers(Redirect("/scoreboard/review/"))),
        post_data={"description": "Matrix action"},
        kwargs=lambda world: {"partner_pk": world["partner"].pk},
    ),
    "close_action_item": Rule(
        get=expect(403, anonymous=LOGIN, **reviewers(405)),
        post=expect(403, anonymous=LOGIN, **reviewers(Redirect("scoreboard"))),
        post_data={"outcome": "Done"},
        kwargs=lambda world: {"pk": world["action_item"].pk},
    ),
    # Webhooks: a partner admin's own endpoints; members and staff get 403.
    "webhooks": Rule(
        get=expect(403, anonymous=LOGIN, **PARTNER_ADMINS),
        post=expect(403, anonymous=LOGIN, **PARTNER_ADMINS),
        post_data=NEW_ENDPOINT,
    ),
    "webhook_detail": Rule(
        get=_admin_page(200),
        post=_admin_page(Redirect("/webhooks/")),
        post_data={**NEW_ENDPOINT, "description": "Renamed"},
        kwargs=_endpoint,
    ),
    # Nothing listens on port 9: the test event is refused, and the page says so.
    "webhook_test": Rule(get=expect(405), post=_admin_page(Redirect("/webhooks/")), kwargs=_endpoint),
    "webhook_rotate": Rule(get=expect(405), post=_admin_page(Redirect("/webhooks/")), kwargs=_endpoint),
    "webhook_toggle": Rule(get=expect(405), post=_admin_page(Redirect("/webhooks/")), kwargs=_endpoint),
    "webhook_remove": Rule(get=expect(405), post=_admin_page(Redirect("webhooks")), kwargs=_endpoint),
    "webhook_delivery": Rule(get=_admin_page(200), kwargs=_delivery),
    "webhook_replay": Rule(get=expect(405), post=_admin_page(Redirect("/webhooks/")), kwargs=_delivery),
    # --- The REST API (token authentication; see test_access below) ---
    "api:me": Rule(get=api(200)),
    "api:partner": Rule(get=api(403, **PARTNERS_ONLY)),
    "api:members": Rule(get=api(403, **PARTNERS_ONLY)),
    "api:standings": Rule(get=api(403, **PARTNERS_ONLY)),
    "api:support_plan": Rule(get=api(403, **PARTNERS_ONLY)),
    "api:kb_search": Rule(get=api(200), query="?q=checkout"),
    "api:kb_suggest": Rule(get=api(200), query="?q=checkout"),
    "api:article-list": Rule(get=api(200)),
    "api:article-detail": Rule(get=api(200), kwargs=lambda world: {"slug": world["article"].slug}),
    "api:queue": Rule(get=api(403, **support(200))),
    "api:oncall": Rule(get=api(403, **support(200))),
    "api:scoreboard": Rule(get=api(403, **staff(200))),
    "api:retier_runs": Rule(get=api(403, program_manager=200, superuser=200)),
    "api:retier_run": Rule(
        get=api(403, program_manager=200, superuser=200), kwargs=lambda world: {"pk": world["run"].pk}
    ),
    "api:retier_results": Rule(
        get=api(403, program_manager=200, superuser=200), kwargs=lambda world: {"pk": world["run"].pk}
    ),
    "api:ticket-list": Rule(
        get=api(200),
        post=api(403, partner_admin=201, partner_member=201, other_partner=201),
        post_data=NEW_TICKET,
    ),
    "api:ticket-detail": Rule(get=api(200, other_partner=404), kwargs=_ticket),
    "api:ticket-events": Rule(get=api(200, other_partner=404), kwargs=_ticket),
    "api:ticket-comments": Rule(
        get=None,
        post=api(201, other_partner=404, program_manager=403),
        post_data={"body": "Any news?"},
        kwargs=_ticket,
    ),
    "api:ticket-attachments": Rule(
        get=api(200, other_partner=404),
        post=api(201, other_partner=404, program_manager=403),
        post_data=_upload,
        kwargs=_ticket,
    ),
    "api:ticket-attachment": Rule(
        get=api(200, other_partner=404),
        kwargs=lambda world: {"pk": world["ticket"].pk, "attachment_pk": world["attachment"].pk},
    ),
    "api:ticket-transitions": Rule(
        get=None,
        post=api(403, other_partner=404, **support(200)),
        post_data={"action": "acknowledge"},
        kwargs=_ticket,
    ),
    # The world's plan has no escalation policy: the partner is told so (400).
    "api:ticket-escalation-requests": Rule(
        get=None,
        post=api(403, partner_admin=400, partner_member=400, other_partner=404),
        post_data={"reason": "Orders failing"},
        kwargs=_ticket,
    ),
    "api:webhook-list": Rule(
        get=api(403, **PARTNER_ADMINS),
        post=api(403, partner_admin=201, other_partner=201),
        post_data=NEW_ENDPOINT,
        as_json=True,
    ),
    "api:webhook-detail": Rule(
        get=api(403, **NORTHWIND_ADMIN_ONLY),
        patch=api(403, **NORTHWIND_ADMIN_ONLY),
        patch_data={"description": "Renamed"},
        delete=api(403, partner_admin=204, other_partner=404),
        kwargs=_endpoint,
    ),
    "api:webhook-rotate-secret": Rule(get=None, post=api(403, **NORTHWIND_ADMIN_ONLY), kwargs=_endpoint),
    "api:webhook-set-state": Rule(
        get=None, post=api(403, **NORTHWIND_ADMIN_ONLY), post_data={"is_active": False}, as_json=True, kwargs=_endpoint
    ),
    "api:webhook-send-test": Rule(get=None, post=api(403, **NORTHWIND_ADMIN_ONLY), kwargs=_endpoint),
    "api:webhook-deliveries": Rule(get=api(403, **NORTHWIND_ADMIN_ONLY), kwargs=_endpoint),
    "api:webhook-replay": Rule(get=None, post=api(403, partner_admin=202, other_partner=404), kwargs=_delivery),
    # The schema and its docs are public: they describe the API, and hold no data.
    "api:schema": Rule(get=expect(200)),
    "api:docs": Rule(get=expect(200)),
    "api:redoc": Rule(get=expect(200)),
    "api:not_found": Rule(get=expect(404), post=expect(404)),
    "api_tokens": Rule(
        get=expect(200, anonymous=LOGIN), post=expect(200, anonymous=LOGIN), post_data={"name": "Matrix token"}
    ),
    "revoke_api_token": Rule(
        get=expect(405),
        # Only the owner (the partner member here) can revoke a token; anyone else's lookup finds nothing.
        post=expect(404, anonymous=LOGIN, partner_member=Redirect("api_tokens")),
        kwargs=lambda world: {"pk": world["token"].pk},
    ),
    "my_tiers": Rule(get=expect(200, anonymous=LOGIN, **staff(403))),
    # Notices: each partner reads its own (the list is scoped); each person sets their own mail.
    "notices": Rule(get=expect(200, anonymous=LOGIN, **staff(403))),
    "notice_preferences": Rule(
        get=expect(200, anonymous=LOGIN, **staff(403)),
        post=expect(Redirect("notice_preferences"), anonymous=LOGIN, **staff(403)),
        post_data={"kinds": ["tier_changed"]},
    ),
    "program": Rule(get=expect(200)),
    "account_claims": Rule(
        get=expect(200, anonymous=LOGIN, **staff(403)),
        # Northwind's tiers do not include exclusivity here: the claim is refused in the form.
        post=expect(400, anonymous=LOGIN, **staff(403)),
        post_data={"account_name": "Matrix Retail"},
    ),
    "log_engagement": Rule(
        get=expect(405),
        post=expect(403, anonymous=LOGIN, other_partner=404, partner_admin=CLAIMS, partner_member=CLAIMS),
        post_data={"note": "Call with their CFO"},
        kwargs=lambda world: {"pk": world["claim"].pk},
    ),
    "withdraw_claim": Rule(
        get=expect(405),
        post=expect(403, anonymous=LOGIN, other_partner=404, partner_admin=CLAIMS, partner_member=CLAIMS),
        kwargs=lambda world: {"pk": world["claim"].pk},
    ),
}


def admin_rule(name: str) -> Rule:
    """Return the rule for a Django admin URL.

    People without admin access (partners, L1/L2/engineering, anonymous) are sent to the admin
    login for every admin URL. People with admin access get what their permissions allow; their
    exact rights per model are tested in tests/programs/test_admin.py, here only "no server error".
    """
    if name == "admin:login":
        return Rule(get=expect(200, **dict.fromkeys(ADMIN_SITE_PERSONAS, Redirect("admin:index"))))
    if name == "admin:logout":  # POST only; without admin access it sends you to the admin login
        return Rule(get=expect(AnyOf((302, 405))))
    allowed = AnyOf((200, 302, 403, 404))
    return Rule(get=expect(ADMIN_LOGIN, **dict.fromkeys(ADMIN_SITE_PERSONAS, allowed)), kwargs=_admin_kwargs)


def _admin_kwargs(world, name=None, keys=()):
    kwargs = {}
    for key in keys:
        if key == "object_id":
            kwargs[key] = _sample_object_id(name)
        elif key == "app_label":
            kwargs[key] = "programs"
        elif key == "content_type_id":
            from django.contrib.contenttypes.models import ContentType

            kwargs[key] = ContentType.objects.get_for_model(world["partner"]).pk
        else:
            kwargs[key] = "1"
    return kwargs


def _sample_object_id(name: str) -> str:
    # admin:<app>_<model>_<action>
    app_model = name.removeprefix("admin:").rsplit("_", 1)[0]
    for model in apps.get_models():
        if f"{model._meta.app_label}_{model._meta.model_name}" == app_model:
            obj = model._default_manager.first()
            return str(obj.pk) if obj else "0"
    return "0"


def _walk(patterns, prefix="", namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            yield (f"{namespace}{entry.name}" if entry.name else None), prefix + str(entry.pattern), entry


def project_urls():
    """Return (key, route, pattern) for every URL of the project; unnamed ones are keyed by route."""
    return [(name or route, route, pattern) for name, route, pattern in _walk(get_resolver().url_patterns)]


def rule_for(key: str) -> Rule | None:
    if key in RULES:
        return RULES[key]
    if key.startswith("admin:") or key.startswith("admin/"):
        return admin_rule(key)
    return None


def test_every_url_has_a_rule():
    missing = [key for key, _, _ in project_urls() if rule_for(key) is None]
    assert not missing, f"URLs without an access rule in tests/test_access_matrix.py: {missing}"


def test_every_rule_names_a_real_url():
    keys = {key for key, _, _ in project_urls()}
    assert not set(RULES) - keys, f"Rules for URLs that no longer exist: {set(RULES) - keys}"


@pytest.fixture
def world(
    request, partner, partner_admin, partner_member, other_partner, pending_invitation, ticket, settings, tmp_path
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from support.tickets import lifecycle

    settings.MEDIA_ROOT = tmp_path
    lifecycle.add_comment(
        ticket, by=partner_member, body="Screenshot", attachments=[_checked(SimpleUploadedFile("a.txt", b"hello"))]
    )
    record_beat()
    record_heartbeat("sla_sweep")
    claim = AccountClaim.objects.create(
        partner=partner,
        account_name="Acme Retail",
        account_key="acme retail",
        claimed_by=partner_admin,
        expires_at=timezone.now() + timedelta(days=90),
    )
    from programs.models import EventType
    from programs.services import create_api_token
    from programs.webhooks.endpoints import register_endpoint
    from programs.webhooks.outbox import Event, publish_many
    from support.models import ActionItem
    from tests.factories import article
    from tiering.models import RetierRun

    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    endpoint, _ = register_endpoint(
        partner, url="http://127.0.0.1:9/hook", event_types=["ticket.created"], by=partner_admin
    )
    publish_many([Event(partner.pk, EventType.TEST, {"message": "Matrix"}, endpoints=[endpoint])])
    return {
        "endpoint": endpoint,
        "delivery": endpoint.deliveries.get(),
        "token": create_api_token(partner_member, name="Member's sync")[0],
        "run": RetierRun.objects.create(kind=RetierRun.Kind.DRY_RUN, as_of=timezone.localdate()),
        "article": article("Checkout 500 error — common causes"),
        "action_item": ActionItem.objects.create(source="monthly_review", partner=partner, description="Follow up"),
        "claim": claim,
        "partner": partner,
        "partner_admin": partner_admin,
        "partner_member": partner_member,
        "other_partner": other_partner,
        "pending_invitation": pending_invitation,
        "ticket": ticket,
        "attachment": ticket.attachments.get(),
    }


def _checked(upload):
    from support.pages.forms import check_upload

    return check_upload(upload)


def _resolve(key, route, pattern, world):
    rule = rule_for(key)
    keys = tuple(pattern.pattern.regex.groupindex)
    if key.startswith("admin/"):  # the admin's unnamed catch-all view
        return rule, "/admin/no-such-page/"
    if key.startswith("admin:"):
        return rule, reverse(key, kwargs=_admin_kwargs(world, key, keys) if keys else None)
    if key == "api:not_found":
        return rule, "/api/v1/no-such-endpoint/"
    kwargs = rule.kwargs(world) if rule.kwargs else None
    return rule, reverse(key, kwargs=kwargs)


def _outcome(response, expected, what) -> list[str]:
    ok = response.status_code == expected if isinstance(expected, int) else expected.matches(response)
    location = response.get("Location", "")
    return [] if ok else [f"{what}: expected {expected!r}, got {response.status_code} {location}"]


URLS = project_urls()
API_DATA_ROUTES = {
    key for key, _, _ in URLS if key.startswith("api:") and key not in ("api:schema", "api:docs", "api:redoc")
}


def implemented_methods(pattern) -> set[str]:
    """Return the HTTP methods an API route answers (other than HEAD and OPTIONS)."""
    callback = pattern.callback
    if getattr(callback, "actions", None):
        allowed = set(callback.cls.http_method_names)  # a viewset may turn off a router's method (PUT)
        return {method.upper() for method in callback.actions if method in allowed} - {"HEAD", "OPTIONS"}
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is None:
        return {"GET", "POST"}
    return {method.upper() for method in ("get", "post", "put", "patch", "delete") if hasattr(view_class, method)}


def test_every_api_route_and_method_has_a_rule():
    missing = []
    for key, _, pattern in URLS:
        if key not in API_DATA_ROUTES or key == "api:not_found":
            continue
        rule = rule_for(key)
        for method in implemented_methods(pattern):
            if getattr(rule, method.lower(), None) is None:
                missing.append(f"{method} {key}")
    assert not missing, f"API methods without an access rule: {missing}"


def _requests(key, url, rule, user, client_for, world):
    """Yield (what, response) for each request of the rule, as `user` would send it."""
    from django.test import Client

    if key in API_DATA_ROUTES:
        from programs.services import create_api_token

        client = Client()
        headers = {}
        if user is not None:
            headers["authorization"] = "Bearer " + create_api_token(user, name="Access matrix")[1]
    else:
        client, headers = client_for(user), {}
    if rule.get is not None:
        yield "GET", client.get(url + rule.query, headers=headers)
    if rule.post is not None:
        data = rule.post_data(world) if callable(rule.post_data) else rule.post_data
        if rule.as_json:
            yield "POST", client.post(url, data, content_type="application/json", headers=headers)
        else:
            yield "POST", client.post(url, data, headers=headers)
    if rule.patch is not None:
        yield "PATCH", client.patch(url, rule.patch_data, content_type="application/json", headers=headers)
    if rule.delete is not None:
        yield "DELETE", client.delete(url, headers=headers)


@pytest.mark.parametrize(("key", "route", "pattern"), URLS, ids=[key for key, _, _ in URLS])
def test_access(key, route, pattern, world, request, client_for):
    """Every persona, one URL: each persona's requests run in a savepoint rolled back afterwards, so
    one persona's POST never changes what the next one finds (and the world is built once per URL)."""
    rule, url = _resolve(key, route, pattern, world)
    users = {persona: request.getfixturevalue(persona) for persona in PERSONAS}
    failures = []
    for persona, user in users.items():
        with transaction.atomic():
            for method, response in _requests(key, url, rule, user, client_for, world):
                expected = getattr(rule, method.lower())[persona]
                failures += _outcome(response, expected, f"{method} {url} as {persona}")
            transaction.set_rollback(True)
    assert not failures, "\n".join(failures)
