"""Template context every page shares. Infrastructure: it asks the user object, and imports no app."""

from django.urls import reverse


def navigation(request):
    """Return the navigation entries the signed-in user may reach."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or getattr(request, "second_factor_pending", False):
        return {"nav_items": []}  # signed out, or the second factor still to enter: nothing to offer
    items = [("Home", reverse("home"))]
    if user.membership is not None:
        items.append(("My tiers", reverse("my_tiers")))
        items.append(("Tickets", reverse("ticket_list")))
    if user.is_support_staff:
        items.append(("Queue", reverse("queue")))
        items.append(("On call", reverse("oncall")))
    if user.is_portal_staff:
        items.append(("Scoreboard", reverse("scoreboard")))
    items.append(("Help", reverse("kb_index")))
    items.append(("Program", reverse("program")))
    if user.is_staff:
        items.append(("Admin", reverse("admin:index")))
    if user.membership is not None and user.membership.is_admin:
        items.append(("Webhooks", reverse("webhooks")))
    items.append(("API tokens", reverse("api_tokens")))
    items.append(("Two-factor", reverse("two_factor")))
    items.append(("Password", reverse("password_change")))
    return {"nav_items": items}
