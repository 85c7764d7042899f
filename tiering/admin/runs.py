"""Admin of re-tier runs (start, dry run, apply, results) and the tiers on the Partner page."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from partnerportal.admin import ReadOnlyAdmin, ReadOnlyInline, progress_bar
from partnerportal.exports import csv_response
from programs.admin import PartnerAdmin
from programs.models import Partner
from tiering import retier, selectors, tasks
from tiering.evaluation import format_value
from tiering.ladder_rules import result_reason
from tiering.models import (
    Ladder,
    Policy,
    RetierResult,
    RetierRun,
    Standing,
)

from .standings import exit_candidate_flag


class StartRunForm(forms.Form):
    kind = forms.ChoiceField(choices=RetierRun.Kind.choices, initial=RetierRun.Kind.DRY_RUN, widget=forms.RadioSelect)
    as_of = forms.DateField(
        label="Evaluate on",
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
        help_text="Windows end on this day.",
    )
    ladder = forms.ModelChoiceField(Ladder.objects.all(), required=False, empty_label="Every ladder")
    policy = forms.ModelChoiceField(
        Policy.objects.select_related("ladder"),
        required=False,
        empty_label="The policy in force on the day",
        help_text="Dry runs only: a draft or upcoming policy to see what it would do.",
    )


@admin.register(RetierRun)
class RetierRunAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "kind", "status", "as_of", "ladder", "policy", "progress", "created_by", "created_at"]
    list_filter = ["kind", "status"]
    list_select_related = ["ladder", "policy__ladder", "created_by"]
    fields = readonly_fields = (
        "kind",
        "status",
        "as_of",
        "ladder",
        "policy",
        "progress",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "error",
    )
    change_form_template = "admin/tiering/retierrun/change_form.html"
    change_list_template = "admin/tiering/retierrun/change_list.html"

    @admin.display(description="Progress")
    def progress(self, run):
        return progress_bar(run.progress_percent(), run.processed, run.total, "partner × ladder")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("start/", wrap(self.start_view), name="tiering_retierrun_start"),
            path("<path:object_id>/csv/<slug:part>/", wrap(self.csv_view), name="tiering_retierrun_csv"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = get_object_or_404(RetierRun, pk=object_id)
        extra = {"run": run, "reports": selectors.run_report(run) if run.status == RetierRun.Status.DONE else []}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def start_view(self, request):
        if not request.user.has_perm("tiering.add_retierrun"):
            raise PermissionDenied
        form = StartRunForm(request.POST or None, initial={"as_of": timezone.localdate(), **request.GET.dict()})
        if request.method == "POST" and form.is_valid():
            try:
                run = retier.start_run(by=request.user, **form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                tasks.enqueue_run(run)
                self.message_user(request, f"{run} started.")
                return redirect("admin:tiering_retierrun_change", run.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "form": form,
            "title": "Start a re-tier run",
        }
        return TemplateResponse(
            request, "admin/tiering/retierrun/start.html", context, status=400 if form.errors else 200
        )

    def csv_view(self, request, object_id, part):
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = get_object_or_404(RetierRun, pk=object_id, status=RetierRun.Status.DONE)
        if part == "summary":
            return csv_response(
                f"retier-{run.pk}-summary.csv", selectors.SUMMARY_HEADER, selectors.run_summary_rows(run)
            )
        if part == "results":
            move = request.GET.get("move") or None
            if move and move not in RetierResult.Move.values:
                move = None
            rows = selectors.run_result_rows(run, move=move)
            return csv_response(f"retier-{run.pk}-results.csv", selectors.RESULTS_HEADER, rows)
        raise PermissionDenied("Unknown export.")


@admin.register(RetierResult)
class RetierResultAdmin(ReadOnlyAdmin):
    list_display = ["partner", "ladder", "current_tier", "computed_tier", "move", "exit_candidacy", "deciding"]
    list_filter = ["move", "exit_candidate", "ladder", "run"]
    list_select_related = ["partner", "ladder", "current_tier", "computed_tier"]
    search_fields = ["partner__name"]
    fields = readonly_fields = (
        "run",
        "partner",
        "ladder",
        "current_tier",
        "computed_tier",
        "move",
        "exit_candidacy",
        "reason",
        "attribution",
    )

    @admin.display(description="Exit candidate", ordering="exit_candidate")
    def exit_candidacy(self, result):
        return exit_candidate_flag(result)

    @admin.display(description="Reason")
    def reason(self, result):
        return result_reason(result)

    @admin.display(description="Attribution")
    def attribution(self, result):
        attribution = selectors.result_attribution(result.run, result)
        if attribution is None:
            return "—"
        rows = [
            (
                tier_name,
                outcome.criterion.label,
                format_value(outcome.value, outcome.criterion.unit),
                format_value(outcome.criterion.threshold, outcome.criterion.unit),
                outcome.criterion.window,
                "pass" if outcome.passed else "fail",
                format_value(outcome.margin, outcome.criterion.unit)
                if outcome.margin is not None and outcome.criterion.unit != "boolean"
                else "",
            )
            for tier_name, outcome in attribution
        ]
        body = format_html_join("", "<tr>" + "<td>{}</td>" * 7 + "</tr>", rows)
        gate = {True: "passed", False: "failed", None: "not assessed"}[result.gate_passed]
        return format_html(
            "<table><thead><tr><th>Tier</th><th>Criterion</th><th>Value</th><th>Threshold</th><th>Window</th>"
            "<th>Result</th><th>Margin</th></tr></thead><tbody>{}</tbody></table>"
            "<p>4C gate: {}. Deciding criterion: <strong>{}</strong>.</p>",
            body,
            gate,
            result.deciding or "—",
        )


class PartnerStandingInline(ReadOnlyInline):
    """The partner's tiers on its admin page (changes come from re-tiers and conversations only)."""

    model = Standing
    fields = readonly_fields = (
        "ladder",
        "tier",
        "since",
        "grandfathered_until",
        "pending_tier",
        "exit_candidate",
    )
    show_change_link = True
    verbose_name_plural = "tiers"


# The Partner admin belongs to programs; its tiers are shown from here, so programs names no tiering code.
admin.site.unregister(Partner)


@admin.register(Partner)
class PartnerWithTiersAdmin(PartnerAdmin):
    inlines = [*PartnerAdmin.inlines, PartnerStandingInline]
