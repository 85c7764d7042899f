"""Admin of criteria policies: drafts, publishing with notice, the next version."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils import timezone

from tiering import policies, retier, tasks
from tiering.evaluation import format_value
from tiering.models import (
    Criterion,
    Policy,
    RetierRun,
    Tier,
)


class CriterionInline(admin.TabularInline):
    model = Criterion
    extra = 0
    fields = ["tier", "metric", "threshold", "window"]
    autocomplete_fields = ["metric"]

    def _editable(self, obj):
        return obj is None or obj.is_draft

    def get_fields(self, request, obj=None):
        return self.fields if self._editable(obj) else ["tier", "metric", "threshold_shown", "window"]

    def get_readonly_fields(self, request, obj=None):
        return [] if self._editable(obj) else ["tier", "metric", "threshold_shown", "window"]

    @admin.display(description="Threshold")
    def threshold_shown(self, criterion):
        return format_value(criterion.threshold, criterion.metric.unit)

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if obj is not None and "tier" in formset.form.base_fields:  # a tier of the policy's own ladder
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

    def has_delete_permission(self, request, obj=None):
        # A published policy is history partners were told about: only drafts are deleted (from their page).
        return (obj is None or obj.is_draft) and super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a selection may hold published policies
        return actions

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
