"""Staff reports: the scoreboard, the tier reality report and the monthly ops review per partner."""

import csv
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from partnerportal.exports import spreadsheet_safe
from programs.access import staff_role_required
from programs.models import SUPPORT_ROLES, Partner, StaffRole
from support.insight import action_items, metrics
from support.models import ActionItem, CsatResponse, Severity, SeverityTarget, SupportPlan, Ticket
from support.pages.forms import ActionItemForm, CloseActionItemForm
from tiering.models import Tier

STAFF = (*SUPPORT_ROLES, StaffRole.PROGRAM_MANAGER)
REVIEWERS = (StaffRole.SUPPORT_MANAGER, StaffRole.PROGRAM_MANAGER)
CHART_WEEKS = 12
TIER_CSV_COLUMNS = [
    "ladder",
    "tier",
    "plan",
    "severity",
    "tickets",
    "promised_first_response_min",
    "median_first_response_min",
    "p90_first_response_min",
    "first_response_within_sla",
    "promised_resolution_min",
    "median_resolution_min",
    "p90_resolution_min",
    "resolution_within_sla",
]
REVIEW_CSV_COLUMNS = [
    "ticket",
    "title",
    "severity",
    "status",
    "received_at",
    "first_response_business_min",
    "first_response_within_sla",
    "resolution_business_min",
    "resolution_within_sla",
    "reopened",
    "first_contact_resolution",
    "escalation_level",
    "csat",
]


class BadMonth(Exception):
    """The ?month= asked for is not a month a report can show."""


def _month(request, zone) -> date:
    """Return the first day of the month asked for (?month=YYYY-MM), this month by default."""
    text = request.GET.get("month", "").strip()
    if not text:
        return timezone.localdate(timezone=zone).replace(day=1)
    try:
        return metrics.parse_month(text)
    except ValueError as error:
        raise BadMonth(str(error)) from None


def _month_links(month: date) -> dict:
    previous = (month - timedelta(days=1)).replace(day=1)
    following = (month + timedelta(days=32)).replace(day=1)
    return {
        "previous_month": f"{previous:%Y-%m}" if previous >= metrics.FIRST_MONTH else "",
        "next_month": f"{following:%Y-%m}" if following <= metrics.LAST_MONTH else "",
    }


def _refused_month(request, error: BadMonth) -> HttpResponse:
    return render(request, "bad_request.html", {"message": str(error)}, status=400)


@staff_role_required(*STAFF)
def scoreboard(request):
    try:
        month = _month(request, UTC)
    except BadMonth as error:
        return _refused_month(request, error)
    start, end = metrics.month_bounds(month, UTC)
    tickets = metrics.received_between(start, end)
    month_figures = metrics.overall_figures(tickets)
    by_partner = metrics.figures_by(tickets, by=("partner",), percentiles=False)
    partners = Partner.objects.in_bulk([key[0] for key in by_partner])
    context = {
        "month": month,
        **_month_links(month),
        "figures": month_figures,
        "targets": metrics.against_targets(month_figures),
        "deflection": metrics.deflection(start, end),
        "by_severity": sorted((key[0], value) for key, value in metrics.figures_by(tickets, by=("severity",)).items()),
        "by_partner": sorted(
            ((partners[key[0]], value) for key, value in by_partner.items()), key=lambda row: -row[1].tickets
        ),
        "chart": _chart(metrics.weekly_compliance(CHART_WEEKS)),
        "review_items": ActionItem.objects.open().select_related("partner", "ticket", "owner")[:50],
        "can_review": request.user.has_staff_role(*REVIEWERS),
    }
    return render(request, "support/scoreboard.html", context)


def _chart(weeks) -> dict:
    """Return the geometry of the 12-week SLA compliance bar chart (rendered as SVG by the template)."""
    width, height, top, bottom, left = 640, 220, 20, 40, 40
    slot = (width - left) / len(weeks)
    bars = []
    for index, (week, figures_) in enumerate(weeks):
        share = figures_.sla_compliance
        bar_height = (share or 0) * (height - top - bottom)
        bars.append(
            {
                "x": round(left + index * slot + slot * 0.15, 1),
                "y": round(height - bottom - bar_height, 1),
                "width": round(slot * 0.7, 1),
                "height": round(bar_height, 1),
                "label_x": round(left + index * slot + slot / 2, 1),
                "week": week,
                "share": share,
                "settled": figures_.first_response_settled + figures_.resolution_settled,
            }
        )
    grid = [
        {"y": round(height - bottom - fraction * (height - top - bottom), 1), "label": f"{int(fraction * 100)}%"}
        for fraction in (0, 0.5, 0.9, 1)
    ]
    return {"width": width, "height": height, "bars": bars, "grid": grid, "axis_y": height - bottom + 16}


# --- Tier reality ---------------------------------------------------------------------------------


def _tier_rows(since: datetime):
    grouped = metrics.figures_by(metrics.received_between(since, timezone.now()), by=("tier", "plan", "severity"))
    tiers = Tier.objects.select_related("ladder__motion").in_bulk([key[0] for key in grouped if key[0]])
    plans = SupportPlan.objects.in_bulk([key[1] for key in grouped])
    promised = {(t.plan_id, t.severity): t for t in SeverityTarget.objects.filter(plan__in=plans)}
    rows = []
    for (tier_id, plan_id, severity), value in grouped.items():
        tier = tiers.get(tier_id)
        rows.append(
            {
                "tier": tier,
                "ladder": tier.ladder if tier else None,
                "plan": plans[plan_id],
                "severity": severity,
                "promised": promised.get((plan_id, severity)),
                "figures": value,
            }
        )
    order = {value: index for index, value in enumerate(Severity.values)}
    rows.sort(
        key=lambda r: (
            r["ladder"].name if r["ladder"] else "~",
            -(r["tier"].rank if r["tier"] else 0),
            r["plan"].name,
            order[r["severity"]],
        )
    )
    return rows


@staff_role_required(*STAFF)
def tier_report(request):
    try:
        days = max(7, min(int(request.GET.get("days", 90)), 730))
    except ValueError:
        days = 90
    since = timezone.now() - timedelta(days=days)
    rows = _tier_rows(since)
    if request.GET.get("format") == "csv":
        return _tier_csv(rows, days)
    return render(request, "support/tier_report.html", {"rows": rows, "days": days, "since": since})


def _tier_csv(rows, days) -> HttpResponse:
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="tier-reality-{days}d.csv"'
    writer = csv.writer(response)
    writer.writerow(TIER_CSV_COLUMNS)
    for row in rows:
        f, promised = row["figures"], row["promised"]
        writer.writerow(
            [
                row["ladder"].name if row["ladder"] else "",
                row["tier"].name if row["tier"] else "no tier",
                row["plan"].name,
                row["severity"],
                f.tickets,
                promised.first_response_minutes if promised else "",
                _minutes(f.first_response_median),
                _minutes(f.first_response_p90),
                _ratio(f.first_response_within),
                promised.resolution_minutes if promised else "",
                _minutes(f.resolution_median),
                _minutes(f.resolution_p90),
                _ratio(f.resolution_within),
            ]
        )
    return response


def _minutes(seconds):
    return "" if seconds is None else round(float(seconds) / 60, 1)


def _ratio(share):
    return "" if share is None else round(share, 4)


# --- Monthly ops review ---------------------------------------------------------------------------


@staff_role_required(*STAFF)
def monthly_review(request, partner_pk, action_form=None, close_forms=None, status=200):
    partner = get_object_or_404(Partner, pk=partner_pk)
    zone = ZoneInfo(partner.time_zone)
    try:
        month = _month(request, zone)
    except BadMonth as error:
        return _refused_month(request, error)
    start, end = metrics.month_bounds(month, zone)
    tickets = metrics.received_between(start, end, Ticket.objects.filter(partner=partner))
    rows = list(tickets.select_related("plan", "assignee").order_by("received_at"))
    csat = {r.ticket_id: r for r in CsatResponse.objects.filter(ticket__in=rows)}
    if request.GET.get("format") == "csv":
        return _review_csv(partner, month, rows, csat)
    items = ActionItem.objects.filter(partner=partner).filter(review_month=month) | ActionItem.objects.filter(
        partner=partner, closed_at__isnull=True
    )
    close_forms = close_forms or {}
    context = {
        "partner": partner,
        "month": month,
        **_month_links(month),
        "zone": partner.time_zone,
        "figures": metrics.overall_figures(tickets),
        "by_severity": sorted((k[0], v) for k, v in metrics.figures_by(tickets, by=("severity",)).items()),
        "deflection": metrics.deflection(start, end, partner=partner),
        "tickets": [(ticket, csat.get(ticket.pk)) for ticket in rows],
        "items": [
            (item, close_forms.get(item.pk) or CloseActionItemForm())
            for item in items.distinct().select_related("owner", "ticket", "closed_by")
        ],
        "action_form": action_form or ActionItemForm(),
        "can_review": request.user.has_staff_role(*REVIEWERS),
    }
    return render(request, "support/monthly_review.html", context, status=status)


def _review_csv(partner, month, rows, csat) -> HttpResponse:
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="review-{partner.slug}-{month:%Y-%m}.csv"'
    writer = csv.writer(response)
    writer.writerow(REVIEW_CSV_COLUMNS)
    for t in rows:
        writer.writerow(
            [
                t.pk,
                spreadsheet_safe(t.title),  # typed by the partner: never a live formula
                t.severity,
                t.status,
                t.received_at.isoformat(),
                _minutes(t.first_response_business_seconds),
                _within(t.first_response_at, t.first_response_due),
                _minutes(t.resolution_business_seconds),
                _within(t.resolved_at, t.resolution_due),
                t.reopened,
                t.first_contact_resolution,
                t.escalation_level,
                csat[t.pk].score if t.pk in csat else "",
            ]
        )
    return response


def _within(done, due):
    return "" if done is None or due is None else done <= due


@staff_role_required(*REVIEWERS)
@require_POST
def add_action_item(request, partner_pk):
    partner = get_object_or_404(Partner, pk=partner_pk)
    try:
        month = _month(request, ZoneInfo(partner.time_zone))
    except BadMonth as error:
        return _refused_month(request, error)
    form = ActionItemForm(request.POST)
    if form.is_valid():
        try:
            action_items.add_action_item(partner, by=request.user, review_month=month, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Action item added.")
            return redirect(f"{reverse('monthly_review', args=[partner.pk])}?month={month:%Y-%m}")
    return monthly_review(request, partner_pk, action_form=form, status=400)


@staff_role_required(*REVIEWERS)
@require_POST
def close_action_item(request, pk):
    item = get_object_or_404(ActionItem, pk=pk)
    form = CloseActionItemForm(request.POST)
    if form.is_valid():
        try:
            action_items.close_action_item(item, by=request.user, outcome=form.cleaned_data["outcome"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Action item closed.")
            target = request.POST.get("next", "")
            if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
                target = reverse("scoreboard")
            return redirect(target)
    return monthly_review(request, item.partner_id, close_forms={item.pk: form}, status=400)
