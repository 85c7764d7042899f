"""Program manager tools: ladders, tiers, policies, benefits, re-tier runs, standings and claims.

Every change with side effects goes through a service function (`tiering.policies`, `.retier`,
`.downgrades`, `.claims`); the admin reports refusals with `message_user` or as form errors, and
never changes a standing itself. It also adds the partner's tiers to the Partner admin page.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from partnerportal.admin import ReadOnlyAdmin, ReadOnlyInline
from partnerportal.exports import csv_response
from programs.admin import PartnerAdmin
from programs.models import Partner

from . import claims, downgrades, policies, retier, selectors, tasks
from .evaluation import format_value
from .models import (
    AccountClaim,
    Benefit,
    Criterion,
    DowngradeConversation,
    Engagement,
    Ladder,
    MdfCriterion,
    Policy,
    QualificationCheck,
    RetierResult,
    RetierRun,
    Standing,
    Tier,
    TierBenefit,
    TierChange,
)

# --- Ladders, tiers, benefits ------------------------------------------------------------------------


class TierInline(admin.TabularInline):
    model = Tier
    extra = 0
    fields = ["rank", "name", "description"]
    show_change_link = True


@admin.register(Ladder)
class LadderAdmin(admin.ModelAdmin):
    list_display = ["name", "motion", "tier_count", "design_notes"]
    list_select_related = ["motion"]
    search_fields = ["name", "motion__name"]
    inlines = [TierInline]
    readonly_fields = ["design_notes"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_tiers=Count("tiers")).prefetch_related("tiers")

    def _warnings(self, ladder):
        return ladder.design_warnings(list(Tier.objects.filter(ladder=ladder).values_list("name", flat=True)))

    @admin.display(description="Tiers", ordering="_tiers")
    def tier_count(self, ladder):
        return ladder._tiers

    @admin.display(description="Design warnings")
    def design_notes(self, ladder):
        if ladder.pk is None:
            return "—"
        return format_html_join("", "<p>⚠ {}</p>", ((w,) for w in ladder.design_warnings())) or "None"

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        for warning in self._warnings(form.instance):
            self.message_user(request, warning, messages.WARNING)


class TierBenefitInline(admin.TabularInline):
    model = TierBenefit
    extra = 0
    autocomplete_fields = ["benefit"]


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ["name", "ladder", "rank"]
    list_filter = ["ladder"]
    list_select_related = ["ladder"]
    search_fields = ["name", "ladder__name"]
    autocomplete_fields = ["ladder"]
    inlines = [TierBenefitInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        for warning in obj.ladder.design_warnings(list(obj.ladder.tiers.values_list("name", flat=True))):
            self.message_user(request, warning, messages.WARNING)


@admin.register(Benefit)
class BenefitAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "is_costly", "offsetting_rule"]
    list_filter = ["kind", "is_costly"]
    search_fields = ["name", "description", "offsetting_rule"]


@admin.register(MdfCriterion)
class MdfCriterionAdmin(admin.ModelAdmin):
    list_display = ["metric", "threshold", "window", "note"]
    autocomplete_fields = ["metric"]


# --- Policies ----------------------------------------------------------------------------------------


class CriterionInline(admin.TabularInline):
    model = Criterion
    extra = 0
    fields = ["tier", "metric", "threshold", "window"]
    autocomplete_fields = ["metric"]

    def _editable(self, obj):
        return obj is None or obj.is_draft

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if obj is not None:  # a criterion names a tier of the policy's own ladder
            formset.form.base_fields["tier"].queryset = Tier.objects.filter(ladder=obj.ladder_id)
        return formset


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    list_display = ["__str__", "ladder", "version", "status", "published_on", "effective_from", "retired_on"]
    list_filter = ["status", "ladder"]
    list_select_related = ["ladder"]
    search_fields = ["ladder__name", "summary"]
    inlines = [CriterionInline]
    actions = ["publish", "draft_next_version", "what_if"]
    readonly_fields = ["status", "published_on", "published_by", "retired_on"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not obj.is_draft:  # published criteria never change: publish a new version
            return ["ladder", "version", "effective_from", *self.readonly_fields]
        return self.readonly_fields

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if "ladder" in initial:
            latest = Policy.objects.filter(ladder=initial["ladder"]).order_by("-version").first()
            initial["version"] = latest.version + 1 if latest else 1
        return initial

    @admin.action(description="Publish the selected drafts (they take effect on their date, 90+ days away)")
    def publish(self, request, queryset):
        for policy in queryset:
            try:
                policies.publish_policy(policy, by=request.user)
            except ValidationError as error:
                self.message_user(request, f"{policy}: {' '.join(error.messages)}", messages.ERROR)
            else:
                self.message_user(request, f"{policy} is published; it takes effect on {policy.effective_from}.")

    @admin.action(description="Start a new draft from the selected policy")
    def draft_next_version(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one policy to start a draft from.", messages.ERROR)
            return None
        draft = policies.draft_next_version(queryset.get(), by=request.user)
        self.message_user(request, f"{draft} is a new draft: edit its criteria, then publish it.")
        return redirect("admin:tiering_policy_change", draft.pk)

    @admin.action(description="What-if: dry run of the selected policy against today's figures")
    def what_if(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one policy for a what-if.", messages.ERROR)
            return None
        try:
            run = retier.start_run(
                kind=RetierRun.Kind.DRY_RUN, as_of=timezone.localdate(), by=request.user, policy=queryset.get()
            )
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return None
        tasks.enqueue_run(run)
        return redirect("admin:tiering_retierrun_change", run.pk)


# --- Partners on the ladders -------------------------------------------------------------------------


@admin.register(QualificationCheck)
class QualificationCheckAdmin(admin.ModelAdmin):
    list_display = ["partner", "motion", "assessed_on", "passed_display", "assessed_by"]
    list_filter = ["motion", "assessed_on"]
    list_select_related = ["partner", "motion", "assessed_by"]
    search_fields = ["partner__name", "notes"]
    autocomplete_fields = ["partner"]
    readonly_fields = ["assessed_by"]

    @admin.display(description="4C passed", boolean=True)
    def passed_display(self, check):
        return check.passed

    def save_model(self, request, obj, form, change):
        if obj.assessed_by_id is None:
            obj.assessed_by = request.user
        super().save_model(request, obj, form, change)


class PendingDropFilter(admin.SimpleListFilter):
    title = "pending drop"
    parameter_name = "pending"

    def lookups(self, request, model_admin):
        return [("yes", "Grandfathered, drop pending"), ("no", "No pending drop")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(grandfathered_until__isnull=False)
        if self.value() == "no":
            return queryset.filter(grandfathered_until__isnull=True)
        return queryset


class ConversationInline(ReadOnlyInline):
    model = DowngradeConversation
    fields = readonly_fields = (
        "held_on",
        "held_by",
        "partner_contact",
        "notes",
        "recorded_at",
    )


class TierChangeInline(ReadOnlyInline):
    model = TierChange
    fk_name = "partner"
    fields = readonly_fields = (
        "effective_on",
        "ladder",
        "kind",
        "from_tier",
        "to_tier",
        "run",
        "reason",
    )


class ConversationForm(forms.Form):
    held_on = forms.DateField(label="Held on", widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}))
    partner_contact = forms.CharField(label="Who you spoke to at the partner", max_length=150)
    notes = forms.CharField(
        label="What was said",
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="The criteria, where they stand now, what the partners at their former tier had in common, "
        "and exactly what would put them back.",
    )


@admin.register(Standing)
class StandingAdmin(ReadOnlyAdmin):
    list_display = ["partner", "ladder", "tier", "since", "grandfathered_until", "pending_tier", "exit_candidate"]
    list_filter = [PendingDropFilter, "exit_candidate", "ladder", "tier"]
    list_select_related = ["partner", "ladder", "tier", "pending_tier"]
    search_fields = ["partner__name"]
    inlines = [ConversationInline]
    change_form_template = "admin/tiering/standing/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        standing = get_object_or_404(Standing, pk=object_id)
        history = TierChange.objects.filter(partner=standing.partner_id, ladder=standing.ladder_id).select_related(
            "from_tier", "to_tier", "run"
        )
        extra = {"standing": standing, "history": history, "today": timezone.localdate()}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def get_urls(self):
        view = self.admin_site.admin_view(self.record_conversation)
        return [path("<path:object_id>/conversation/", view, name="tiering_standing_conversation"), *super().get_urls()]

    def record_conversation(self, request, object_id):
        if not request.user.has_perm("tiering.add_downgradeconversation"):
            raise PermissionDenied
        standing = get_object_or_404(Standing.objects.select_related("partner", "ladder", "tier"), pk=object_id)
        form = ConversationForm(request.POST or None, initial={"held_on": timezone.localdate()})
        if request.method == "POST" and form.is_valid():
            try:
                downgrades.record_downgrade_conversation(standing, by=request.user, **form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                standing.refresh_from_db()
                outcome = (
                    "the drop applied today"
                    if not standing.has_pending_drop
                    else f"the drop applies after {standing.grandfathered_until:%d %b %Y}"
                )
                self.message_user(request, f"Conversation with {standing.partner} recorded; {outcome}.")
                return redirect("admin:tiering_standing_change", standing.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "standing": standing,
            "form": form,
            "title": f"Downgrade conversation with {standing.partner}",
        }
        return TemplateResponse(
            request, "admin/tiering/standing/conversation.html", context, status=400 if form.errors else 200
        )


@admin.register(DowngradeConversation)
class DowngradeConversationAdmin(ReadOnlyAdmin):
    list_display = ["standing", "held_on", "held_by", "partner_contact", "recorded_at"]
    list_select_related = ["standing__partner", "standing__ladder__motion", "standing__tier", "held_by"]
    search_fields = ["standing__partner__name", "partner_contact", "notes"]


@admin.register(TierChange)
class TierChangeAdmin(ReadOnlyAdmin):
    list_display = ["partner", "ladder", "kind", "from_tier", "to_tier", "effective_on", "run"]
    list_filter = ["kind", "ladder", "effective_on"]
    list_select_related = ["partner", "ladder", "from_tier", "to_tier", "run"]
    search_fields = ["partner__name", "reason"]
    date_hierarchy = "effective_on"


# --- Re-tier runs ------------------------------------------------------------------------------------


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
        return format_html(
            '<progress max="100" value="{}"></progress> {} of {} partner × ladder',
            run.progress_percent(),
            run.processed,
            run.total,
        )

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
    list_display = ["partner", "ladder", "current_tier", "computed_tier", "move", "exit_candidate", "deciding"]
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
        "exit_candidate",
        "reason",
        "attribution",
    )

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


# --- Named accounts ----------------------------------------------------------------------------------


class EngagementInline(ReadOnlyInline):
    model = Engagement
    fields = readonly_fields = (
        "logged_at",
        "logged_by",
        "note",
    )


@admin.register(AccountClaim)
class AccountClaimAdmin(ReadOnlyAdmin):
    list_display = ["account_name", "partner", "claimed_at", "expires_at", "released_at", "release_reason"]
    list_filter = ["release_reason", "released_at", "expires_at"]
    list_select_related = ["partner"]
    search_fields = ["account_name", "partner__name"]
    inlines = [EngagementInline]
    actions = ["release"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("tiering.change_accountclaim"):
            actions.pop("release", None)
        return actions

    @admin.action(description="Release the selected claims (the program frees the accounts)")
    def release(self, request, queryset):
        released = 0
        for claim in queryset.filter(released_at__isnull=True):
            claims.release_claim(claim, reason=AccountClaim.Release.PROGRAM, by=request.user)
            released += 1
        self.message_user(request, f"{released} claim(s) released.")
