"""A partner admin's webhook pages: endpoints, their delivery log, test events and replays."""

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from programs.access import partner_admin_required
from programs.forms import WebhookEndpointForm
from programs.models import WebhookDelivery, WebhookEndpoint

from . import endpoints as services

LOG_PAGE_SIZE = 25


def _endpoint(request, pk: int) -> WebhookEndpoint:
    return get_object_or_404(
        WebhookEndpoint.objects.for_user(request.user).filter(partner=request.membership.partner), pk=pk
    )


def _form_with_errors(form, error: ValidationError) -> None:
    for field, errors in error.message_dict.items() if hasattr(error, "error_dict") else [(None, error.messages)]:
        for message in errors:
            form.add_error(field if field in form.fields else None, message)


@partner_admin_required
def webhook_list(request):
    """The partner's endpoints; register one (its secret is shown on this answer only)."""
    partner = request.membership.partner
    form = WebhookEndpointForm(request.POST or None)
    created = secret = None
    if request.method == "POST" and form.is_valid():
        try:
            created, secret = services.register_endpoint(partner, **form.cleaned_data, by=request.user)
        except ValidationError as error:
            _form_with_errors(form, error)
        else:
            form = WebhookEndpointForm()
    context = {
        "form": form,
        "created": created,
        "secret": secret,
        "endpoints": WebhookEndpoint.objects.for_user(request.user).filter(partner=partner),
    }
    return render(request, "programs/webhooks.html", context, status=400 if form.errors else 200)


@partner_admin_required
def webhook_detail(request, pk):
    """One endpoint: its settings, its secret's rotation, test events, and the delivery log."""
    endpoint = _endpoint(request, pk)
    form = WebhookEndpointForm(
        request.POST or None,
        initial={"url": endpoint.url, "description": endpoint.description, "event_types": endpoint.event_types},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.change_endpoint(endpoint, **form.cleaned_data, by=request.user)
        except ValidationError as error:
            _form_with_errors(form, error)
        else:
            messages.success(request, "The endpoint is saved.")
            return redirect("webhook_detail", pk=endpoint.pk)
    state = request.GET.get("state", "")
    log = WebhookDelivery.objects.for_user(request.user).filter(endpoint=endpoint).select_related("message")
    if state in WebhookDelivery.State.values:
        log = log.filter(state=state)
    context = {
        "endpoint": endpoint,
        "form": form,
        "page": Paginator(log, LOG_PAGE_SIZE).get_page(request.GET.get("page")),
        "state": state,
        "states": WebhookDelivery.State.choices,
        "secret": request.session.pop(f"webhook-secret-{endpoint.pk}", None),
    }
    return render(request, "programs/webhook_detail.html", context, status=400 if form.errors else 200)


@require_POST
@partner_admin_required
def webhook_test(request, pk):
    endpoint = _endpoint(request, pk)
    try:
        sent = services.send_test_event(endpoint, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        outcome = sent.outcome
        if outcome is not None and outcome.delivered:
            messages.success(request, f"Test event delivered: your endpoint answered {outcome.status}.")
        else:
            answer = f"answered {outcome.status}" if outcome and outcome.status else (outcome.error if outcome else "")
            messages.error(request, f"The test event was not accepted: {answer} It is retried on the schedule.")
    return redirect("webhook_detail", pk=endpoint.pk)


@require_POST
@partner_admin_required
def webhook_rotate(request, pk):
    endpoint = _endpoint(request, pk)
    # Shown on the next page only (a redirect keeps the secret out of the URL and the history).
    request.session[f"webhook-secret-{endpoint.pk}"] = services.rotate_secret(endpoint, by=request.user)
    messages.success(request, "New secret made. For 24 hours both the old and the new secret sign every request.")
    return redirect("webhook_detail", pk=endpoint.pk)


@require_POST
@partner_admin_required
def webhook_toggle(request, pk):
    endpoint = _endpoint(request, pk)
    enable = not endpoint.is_active
    services.set_endpoint_enabled(endpoint, enabled=enable, by=request.user)
    messages.success(request, "Sending resumed: waiting events go out now." if enable else "Sending paused.")
    return redirect("webhook_detail", pk=endpoint.pk)


@require_POST
@partner_admin_required
def webhook_remove(request, pk):
    endpoint = _endpoint(request, pk)
    services.remove_endpoint(endpoint, by=request.user)
    messages.success(request, f"The endpoint {endpoint.url} is removed with its delivery log.")
    return redirect("webhooks")


@partner_admin_required
def webhook_delivery(request, pk, delivery_pk):
    """One message to one endpoint: its body and every attempt."""
    endpoint = _endpoint(request, pk)
    delivery = get_object_or_404(
        WebhookDelivery.objects.for_user(request.user).filter(endpoint=endpoint).select_related("message"),
        pk=delivery_pk,
    )
    body = json.dumps(json.loads(delivery.message.body), indent=2, ensure_ascii=False)
    context = {"endpoint": endpoint, "delivery": delivery, "attempts": delivery.attempt_log.all(), "body": body}
    return render(request, "programs/webhook_delivery.html", context)


@require_POST
@partner_admin_required
def webhook_replay(request, pk, delivery_pk):
    endpoint = _endpoint(request, pk)
    delivery = get_object_or_404(
        WebhookDelivery.objects.for_user(request.user).filter(endpoint=endpoint), pk=delivery_pk
    )
    try:
        services.replay_delivery(delivery, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Sent again, with the same webhook-id: see the attempts below.")
    return redirect("webhook_delivery", pk=endpoint.pk, delivery_pk=delivery.pk)
