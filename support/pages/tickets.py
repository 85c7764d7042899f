from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_tables2 import RequestConfig
from django_tables2.export import TableExport
from django_tables2.paginators import LazyPaginator

from programs.access import partner_required, staff_role_required
from programs.models import SUPPORT_ROLES
from support import entitlement
from support.escalation import services as escalations
from support.escalation.routing import escalation_contacts, oncall_overview
from support.insight import csat, quarter
from support.models import (
    SEVERITY_GUIDE,
    CsatResponse,
    Escalation,
    Severity,
    Ticket,
    TicketAttachment,
    TicketEvent,
)
from support.pages.filters import OPEN, PartnerTicketFilter, QueueFilter
from support.pages.forms import (
    CommentForm,
    CsatForm,
    EscalateForm,
    EscalationRequestForm,
    QueueBulkForm,
    SeverityForm,
    StaffCommentForm,
    TicketForm,
    TransitionForm,
)
from support.pages.tables import EXPORT_FORMATS, ROW_FIELDS, QueueTable
from support.tickets import lifecycle
from tiering.models import Standing


@partner_required
def ticket_list(request):
    tickets = Ticket.objects.for_user(request.user).select_related("submitter").order_by("-received_at", "-pk")
    filterset = PartnerTicketFilter(request.GET, queryset=tickets)
    valid = filterset.is_valid()
    found = filterset.qs if valid else tickets.none()
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "filter": filterset,
        "filtered": valid and any(filterset.form.cleaned_data.values()),
        "query": params.urlencode(),  # kept by the page links
        # Pages without a COUNT of all the partner's tickets: the page knows only whether one follows.
        "page": lazy_page(LazyPaginator(found, 25), request.GET.get("page")),
        "now": timezone.now(),
        "quarter": quarter.partner_quarter(request.membership.partner),
    }
    return render(request, "support/ticket_list.html", context, status=200 if valid else 400)


def lazy_page(paginator: LazyPaginator, number):
    """Return page `number`, or the first page when it is not a page number or past the end."""
    try:
        return paginator.page(number)
    except (PageNotAnInteger, EmptyPage):
        return paginator.page(1)


@partner_required
def ticket_new(request):
    partner = request.membership.partner
    plan = entitlement.plan_for_partner(partner)
    form = TicketForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        fields = {name: value for name, value in form.cleaned_data.items() if name in TicketForm.Meta.fields}
        try:
            ticket = lifecycle.open_ticket(
                partner,
                submitter=request.user,
                attachments=form.cleaned_data["attachments"],
                suggested_for=form.cleaned_data["suggested_for"],
                **fields,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Ticket #{ticket.pk} was received. The SLA clock is running.")
            return redirect(ticket)
    context = {"form": form, "plan": plan, "severity_guide": _severity_guide(plan)}
    return render(request, "support/ticket_new.html", context, status=400 if form.errors else 200)


def _severity_guide(plan):
    targets = {t.severity: t for t in plan.targets.all()} if plan else {}
    return [
        {
            "severity": value,
            "label": label,
            "definition": SEVERITY_GUIDE[value][0],
            "example": SEVERITY_GUIDE[value][1],
            "target": targets.get(value),
        }
        for value, label in Severity.choices
    ]


def _ticket_for(request, pk):
    queryset = Ticket.objects.for_user(request.user).select_related(
        "partner", "plan__calendar", "submitter", "assignee"
    )
    return get_object_or_404(queryset, pk=pk)


@login_required
def ticket_detail(request, pk, comment_form=None, status=200, escalate_form=None, request_form=None, csat_form=None):
    ticket = _ticket_for(request, pk)
    user = request.user
    staff = user.is_support_staff
    events = TicketEvent.objects.visible_to(user).filter(ticket=ticket).select_related("actor")
    attachments = TicketAttachment.objects.visible_to(user).filter(ticket=ticket)
    actions = [(name, ACTION_LABELS[name]) for name in lifecycle.available_actions(ticket, user)]
    now = timezone.now()
    context = {
        "ticket": ticket,
        "escalations": Escalation.objects.for_user(user).filter(ticket=ticket).select_related("assignee"),
        "contacts": escalation_contacts(ticket.plan, now),
        "escalate_form": escalate_form
        or (EscalateForm(levels=escalations.escalation_options(ticket)) if staff and ticket.is_open else None),
        **_request_context(ticket, user, request_form),
        "events": events,
        "attachments": attachments,
        "actions": actions,
        "is_support": staff,
        "comment_form": comment_form or (StaffCommentForm() if staff else CommentForm()),
        "severity_form": SeverityForm(initial={"severity": ticket.severity}) if staff else None,
        "transition_form": TransitionForm(),
        "sla_state": ticket.sla_state(now),
        "zone": ticket.partner.time_zone,
        "severity_guide": SEVERITY_GUIDE[ticket.severity],
        **_csat_context(ticket, user, csat_form),
        **(_partner_panel(ticket) if staff else {}),
    }
    return render(request, "support/ticket_detail.html", context, status=status)


def _partner_panel(ticket) -> dict:
    """What an agent wants beside the ticket: the partner's tiers and plan, and its other open tickets."""
    others = Ticket.objects.open().filter(partner=ticket.partner_id).exclude(pk=ticket.pk)
    return {
        "partner_standings": Standing.objects.filter(partner=ticket.partner_id)
        .select_related("ladder__motion", "tier")
        .order_by("ladder__motion__name"),
        "other_open": list(others.by_next_deadline()[:5]),
        "other_open_count": others.count(),
    }


def _csat_context(ticket, user, form) -> dict:
    """Return the ticket's rating, or the form to rate it when the partner may and has not yet."""
    csat = CsatResponse.objects.filter(ticket=ticket).first()
    can_rate = csat is None and not ticket.is_open and user.membership is not None
    return {"csat": csat, "csat_form": (form or CsatForm()) if can_rate else None}


@partner_required
@require_POST
def ticket_rate(request, pk):
    ticket = _ticket_for(request, pk)
    form = CsatForm(request.POST)
    if form.is_valid():
        try:
            csat.rate_ticket(ticket, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Thank you for rating this ticket.")
            return redirect(ticket)
    return ticket_detail(request, pk, csat_form=form, status=400)


def _request_context(ticket, user, form) -> dict:
    """Return the partner's escalation request form, or why the partner cannot ask (one reason each)."""
    if user.membership is None:
        return {"request_form": None, "request_refusal": "", "executive_refusal": ""}
    form = form or EscalationRequestForm()
    executive_refusal = escalations.partner_escalation_refusal(ticket, executive=True)
    if executive_refusal:
        form.fields.pop("executive", None)
    return {
        "request_form": form,
        "request_refusal": escalations.partner_escalation_refusal(ticket),
        "executive_refusal": executive_refusal,
    }


ACTION_LABELS = {
    "acknowledge": "Acknowledge",
    "start": "Start work",
    "wait": "Wait on partner",
    "resolve": "Resolve",
    "close": "Close",
    "reopen": "Reopen",
}


ACTION_DONE = {
    "acknowledge": "acknowledged",
    "start": "is in progress",
    "wait": "is waiting on the partner; its resolution clock is paused",
    "resolve": "resolved",
    "close": "closed",
    "reopen": "reopened",
}


@require_POST
@login_required
def ticket_action(request, pk, action):
    ticket = _ticket_for(request, pk)
    if action not in lifecycle.TRANSITIONS:
        raise Http404("No such action.")
    form = TransitionForm(request.POST)
    message = form.cleaned_data["message"] if form.is_valid() else ""
    try:
        lifecycle.transition_ticket(ticket, action=action, by=request.user, message=message)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Ticket #{ticket.pk} {ACTION_DONE[action]}.")
    return redirect("queue") if request.POST.get("next") == "queue" else redirect(ticket)


@require_POST
@login_required
def ticket_comment(request, pk):
    ticket = _ticket_for(request, pk)
    staff = request.user.is_support_staff
    form = (StaffCommentForm if staff else CommentForm)(request.POST, request.FILES)
    if form.is_valid():
        public = not form.cleaned_data.get("internal", False)
        try:
            lifecycle.add_comment(
                ticket,
                by=request.user,
                body=form.cleaned_data["body"],
                public=public,
                attachments=form.cleaned_data["attachments"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Your message was added." if public else "Internal note added.")
            return redirect(ticket)
    return ticket_detail(request, pk, comment_form=form, status=400)


@require_POST
@staff_role_required(*SUPPORT_ROLES)
def ticket_severity(request, pk):
    ticket = _ticket_for(request, pk)
    form = SeverityForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a severity and give a reason.")
        return redirect(ticket)
    try:
        lifecycle.change_severity(ticket, by=request.user, **form.cleaned_data)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        severity = form.cleaned_data["severity"]
        messages.success(request, f"Severity is now {severity}; the SLA clocks were re-targeted.")
    return redirect(ticket)


@require_POST
@staff_role_required(*SUPPORT_ROLES)
def ticket_assign_to_me(request, pk):
    ticket = _ticket_for(request, pk)
    lifecycle.assign_ticket(ticket, assignee=request.user, by=request.user)
    messages.success(request, f"Ticket #{ticket.pk} is yours.")
    return redirect(ticket)


@login_required
def attachment_download(request, pk, attachment_pk):
    ticket = _ticket_for(request, pk)
    attachment = get_object_or_404(
        TicketAttachment.objects.visible_to(request.user).filter(ticket=ticket), pk=attachment_pk
    )
    return attachment_response(attachment)


def attachment_response(attachment: TicketAttachment) -> FileResponse:
    """Return the file as a download that browsers never render or sniff (no inline HTML, no scripts)."""
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _valid_paging(params) -> bool:
    for name, limit in (("page", 1_000_000), ("per_page", 200)):
        value = params.get(name)
        if value is not None and not (value.isdigit() and 1 <= int(value) <= limit):
            return False
    return True


@staff_role_required(*SUPPORT_ROLES)
def queue(request):
    return _queue_page(request)


def _queue_page(request, *, bulk_form=None, status=200):
    """The queue as `request.GET` filters, orders and pages it (a bulk action posts with the same query)."""
    data = request.GET.copy()
    data.setdefault("status", OPEN)
    tickets = Ticket.objects.for_user(request.user).select_related("partner", "assignee").only(*ROW_FIELDS)
    filterset = QueueFilter(data, queryset=tickets, request=request)
    valid = filterset.is_valid() and _valid_paging(request.GET)
    status = status if valid else 400  # an invalid filter or page shows its error and no rows
    export_format = request.GET.get("_export", "")
    if export_format and export_format not in EXPORT_FORMATS:
        offered = ", ".join(EXPORT_FORMATS)
        return render(request, "bad_request.html", {"message": f"The queue exports as {offered}."}, status=400)
    table = QueueTable(filterset.qs if valid else tickets.none(), spreadsheet=EXPORT_FORMATS.get(export_format, False))
    if valid and export_format:
        RequestConfig(request, paginate=False).configure(table)
        return TableExport(export_format, table, exclude_columns=()).response(f"queue.{export_format}")
    paginate = {"per_page": 50, "paginator_class": LazyPaginator} if valid else False
    RequestConfig(request, paginate=paginate).configure(table)
    context = {
        "table": table,
        "filter": filterset,
        "queue_rows": table.page_rows(timezone.now()) if valid else [],
        "views": _view_links(request.GET),
        "current_view": request.GET.get("view", ""),
        "bulk_form": bulk_form or QueueBulkForm(user=request.user),
        "ticked": request.POST.getlist("tickets") if bulk_form is not None else [],  # kept through an error
    }
    return render(request, "support/queue.html", context, status=status)


def _view_links(params) -> list[tuple[str, str, str]]:
    """Each saved view as (key, label, query string): the filters in use with that view, from the first page."""
    links = []
    for key, label in QueueFilter.VIEWS.items():
        query = params.copy()
        query.pop("page", None)
        query["view"] = key
        links.append((key, label, query.urlencode()))
    return links


@require_POST
@staff_role_required(*SUPPORT_ROLES)
def queue_bulk(request):
    """Acknowledge or take the ticked tickets, each through the lifecycle; say what was done and what was not."""
    form = QueueBulkForm(request.POST, user=request.user)
    if not form.is_valid():
        return _queue_page(request, bulk_form=form, status=400)
    action, done, refused = form.cleaned_data["action"], [], []
    for ticket in form.cleaned_data["tickets"]:
        try:
            if action == "acknowledge":
                lifecycle.transition_ticket(ticket, action="acknowledge", by=request.user)
            elif ticket.assignee_id == request.user.pk:
                raise ValidationError("it is yours already.")
            else:
                lifecycle.assign_ticket(ticket, assignee=request.user, by=request.user)
        except ValidationError as error:
            refused.append(f"#{ticket.pk}: {' '.join(error.messages)}")
        else:
            done.append(f"#{ticket.pk}")
    if done:
        what = "acknowledged" if action == "acknowledge" else "assigned to you"
        messages.success(request, f"{len(done)} ticket(s) {what}: {', '.join(done)}.")
    if refused:
        messages.error(request, "Not changed: " + "; ".join(refused))
    query = request.GET.urlencode()
    return redirect(reverse("queue") + (f"?{query}" if query else ""))


@require_POST
@staff_role_required(*SUPPORT_ROLES)
def ticket_escalate(request, pk):
    ticket = _ticket_for(request, pk)
    form = EscalateForm(request.POST, levels=escalations.escalation_options(ticket))
    if form.is_valid():
        try:
            escalations.escalate_by_hand(
                ticket, rank=form.cleaned_data["rank"], reason=form.cleaned_data["reason"], by=request.user
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Ticket #{ticket.pk} escalated.")
            return redirect(ticket)
    return ticket_detail(request, pk, status=400, escalate_form=form)


@require_POST
@partner_required
def ticket_request_escalation(request, pk):
    ticket = _ticket_for(request, pk)
    form = EscalationRequestForm(request.POST)
    if form.is_valid():
        try:
            escalations.request_escalation(
                ticket,
                by=request.user,
                reason=form.cleaned_data["reason"],
                executive=form.cleaned_data.get("executive", False),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Your escalation request is in: the next level has the ticket now.")
            return redirect(ticket)
    return ticket_detail(request, pk, status=400, request_form=form)


@staff_role_required(*SUPPORT_ROLES)
def oncall(request):
    now = timezone.now()
    context = {"now": now, "schedules": oncall_overview(now, days=7)}
    return render(request, "support/oncall.html", context)
