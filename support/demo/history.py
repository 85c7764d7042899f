"""Demo knowledge base and twelve weeks of support history (resolved tickets, ratings, reviews), so
the scoreboard, the tier reality report and the monthly review have something to show. Idempotent:
articles are found by slug; the history is made once (its tickets carry a "[history]" customer)."""

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from programs.models import Partner, User
from support.insight import csat
from support.models import Article, ArticleCategory, Deflection, Notification, Ticket
from support.tickets import lifecycle

CATEGORIES = [("Payments and checkout", "payments", 1), ("Accounts and sign-in", "accounts", 2),
              ("Integrations and API", "integrations", 3), ("Runbooks", "runbooks", 9)]  # fmt: skip

# slug: (title, category, audience, summary, body)
ARTICLES = {
    "checkout-500-common-causes": (
        "Checkout 500 error — common causes", "payments", "partners",
        "The four causes behind most HTTP 500 responses at checkout, and how to tell them apart.",
        "When checkout returns **HTTP 500**, look at these in order:\n\n"
        "1. **Payment gateway credentials** expired or rotated: the log shows `401 from gateway`.\n"
        "2. **Tax service timeout**: the log shows `tax quote timed out after 10s`.\n"
        "3. **Cart with a deleted product**: remove the line and retry.\n"
        "4. **Currency not enabled** for the store.\n\n"
        "If none applies, file a P1 ticket with the request ID from the error page.",
    ),
    "payment-gateway-timeout": (
        "Payment gateway timeout debug", "payments", "partners",
        "Find where a payment times out: gateway, 3-D Secure or our API.",
        "Timeouts at payment come from the gateway in nine cases out of ten. Check the gateway status page, "
        "then the `payment.authorize` latency in your logs. Retries are safe: payments are idempotent by "
        "order ID.",
    ),
    "3ds-failure-flow": (
        "3-D Secure failure flow", "payments", "public",
        "What the customer sees when 3-D Secure fails, and what to do next.",
        "When the card issuer rejects the 3-D Secure challenge, the order stays *pending payment* for 30 "
        "minutes. The customer can retry with the same card or another one.",
    ),
    "reset-password": (
        "How do I reset my password?", "accounts", "public",
        "Reset a forgotten password in two minutes.",
        "Open the sign-in page, choose **Forgot your password?**, and follow the link we email you. The link "
        "works for three days.",
    ),
    "sso-login-failing": (
        "SSO login failing for enterprise accounts", "accounts", "partners",
        "SAML sign-in errors: clock skew, certificates and attribute mapping.",
        "Most SAML failures are one of: the identity provider's certificate rotated, a clock skew over five "
        "minutes, or the `email` attribute not mapped. The error page names which.",
    ),
    "api-rate-limits": (
        "API rate limits and how to stay under them", "integrations", "partners",
        "Limits per key, the headers that tell you where you are, and backoff.",
        "Each API key may make 600 requests a minute. Read `X-RateLimit-Remaining`; on `429` wait for "
        "`Retry-After` seconds. Batch endpoints count as one request.",
    ),
    "webhook-retries": (
        "Webhook retries and idempotency", "integrations", "partners",
        "When we retry a webhook and how to make your handler safe to call twice.",
        "We retry a failed webhook with exponential backoff for 24 hours. Deduplicate on the `event_id`.",
    ),
    "runbook-checkout-500": (
        "Runbook: checkout 500 triage (internal)", "runbooks", "internal",
        "L1/L2 steps for checkout errors, with the dashboards to open.",
        "1. Open the checkout error dashboard.\n2. Match the request ID.\n3. Gateway errors → page payments "
        "on call.",
    ),
}  # fmt: skip

HISTORY_PARTNERS = [("northwind", "partner-user@demo.test"), ("contoso", "other-partner@demo.test")]
HISTORY_TITLES = [
    "Carts failing at checkout with HTTP 500", "Payment gateway timeouts at peak", "SSO login failing after rotation",
    "Webhook delivered twice", "API 429 during nightly sync", "Report export slow", "Password reset email missing",
    "Tax quote missing on invoices", "3-D Secure loop on mobile", "Search results out of date",
]  # fmt: skip
HISTORY_CUSTOMER = "[history] demo customer"


@transaction.atomic
def seed_knowledge_base() -> int:
    categories = {}
    for name, slug, position in CATEGORIES:
        categories[slug], _ = ArticleCategory.objects.update_or_create(
            slug=slug, defaults={"name": name, "position": position}
        )
    for slug, (title, category, audience, summary, body) in ARTICLES.items():
        Article.objects.update_or_create(
            slug=slug,
            defaults={"title": title, "category": categories[category], "audience": audience, "summary": summary,
                      "body": body, "published": True},
        )  # fmt: skip
    return Article.objects.count()


@transaction.atomic
def seed_history(weeks: int = 12) -> int:
    """Create `weeks` weeks of resolved demo tickets with ratings (once)."""
    if Ticket.objects.filter(customer_name=HISTORY_CUSTOMER).exists():
        return 0
    people = {user.email: user for user in User.objects.filter(email__endswith="@demo.test")}
    rng = random.Random(2026)
    now = timezone.now()
    created = []
    for week in range(weeks, 0, -1):
        for _ in range(rng.randint(5, 9)):
            created.append(_past_ticket(people, rng, received=now - timedelta(weeks=week, hours=rng.randint(0, 160))))
    for ticket in created:
        if rng.random() < 0.7:
            score = rng.choices([1, 2, 3, 4, 5], weights=[1, 1, 2, 6, 10])[0]
            csat.rate_ticket(ticket, score=score, comment="" if score > 2 else "Took too long.", by=ticket.submitter)
    # The invitations and pages of the past were "sent" then; the demo does not mail them now.
    Notification.objects.filter(ticket__in=created, sent_at__isnull=True).update(sent_at=now)
    _deflections(people, rng, now)
    return len(created)


def _past_ticket(people: dict, rng: random.Random, *, received) -> Ticket:
    """File one ticket at `received` and walk it to resolved: answered, sometimes waited on, sometimes reopened."""
    l1, l2 = people["l1@demo.test"], people["l2@demo.test"]
    slug, submitter = rng.choice(HISTORY_PARTNERS)
    ticket = lifecycle.open_ticket(
        Partner.objects.get(slug=slug),
        submitter=people[submitter],
        title=rng.choice(HISTORY_TITLES),
        severity=rng.choices(["P1", "P2", "P3", "P4"], weights=[1, 3, 5, 2])[0],
        category="defect",
        customer_name=HISTORY_CUSTOMER,
        environment="production",
        steps_to_reproduce="See the customer's report.",
        business_impact="Some orders affected.",
        at=received,
    )
    answered = received + timedelta(minutes=rng.choice([4, 12, 25, 50, 90, 240]))
    lifecycle.transition_ticket(ticket, action="acknowledge", by=l1, at=answered)
    if rng.random() < 0.3:
        lifecycle.transition_ticket(ticket, action="wait", by=l1, at=answered + timedelta(minutes=20))
        lifecycle.add_comment(ticket, by=people[submitter], body="Logs attached.", at=answered + timedelta(hours=3))
    resolved = answered + timedelta(hours=rng.choice([1, 3, 8, 20, 40, 90]))
    lifecycle.transition_ticket(ticket, action="resolve", by=l2, message="Fixed.", at=resolved)
    if rng.random() < 0.1:
        reopened = resolved + timedelta(hours=5)
        lifecycle.transition_ticket(ticket, action="reopen", by=people[submitter], message="Back again.", at=reopened)
        lifecycle.transition_ticket(ticket, action="resolve", by=l2, at=resolved + timedelta(hours=9))
    return ticket


def _deflections(people, rng, now) -> None:
    member = people["partner-user@demo.test"]
    articles = list(Article.objects.filter(audience__in=["public", "partners"]))
    for day in range(60):
        article = rng.choice(articles)
        at = now - timedelta(days=day, hours=rng.randint(0, 20))
        kinds = [Deflection.Kind.OPENED, rng.choice([Deflection.Kind.SOLVED, Deflection.Kind.SUBMITTED])]
        for kind in kinds:
            Deflection.objects.create(kind=kind, partner=member.partner, user=member, article=article,
                                      query=article.title.split(" ")[0], at=at)  # fmt: skip
