from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django_countries import countries
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from partnerportal.admin import ReadOnlyAdmin

from . import services
from .models import (
    Certification,
    Invitation,
    Membership,
    Metric,
    MetricImport,
    MetricValue,
    Motion,
    Partner,
    PartnerMotion,
    User,
)


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


# django-otp's own admin shows any person's authenticator secret as a QR code: whoever reads it
# could copy that person's second factor. Devices are managed by their owner on the two-factor
# pages; the admin only resets them (the action on people below).
for _device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device_model):
        admin.site.unregister(_device_model)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    ordering = ["email"]
    list_display = ["email", "full_name", "staff_role_list", "is_active", "is_staff", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser", "groups"]
    search_fields = ["email", "full_name"]
    readonly_fields = ["last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Person", {"fields": ["full_name"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "full_name", "password1", "password2"]})]

    actions = ["reset_two_factor"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.action(description="Reset two-factor sign-in (lost phone and recovery codes)", permissions=["change"])
    def reset_two_factor(self, request, queryset):
        for user in queryset:
            services.reset_two_factor(user, by=request.user)
        self.message_user(
            request,
            f"Two-factor sign-in reset for {queryset.count()} people: they set it up again at their next sign-in.",
        )

    @admin.display(description="Staff roles")
    def staff_role_list(self, user):
        return ", ".join(group.name for group in user.groups.all()) or "—"


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "is_support_contact", "joined_at"]


class PartnerMotionInline(admin.TabularInline):
    model = PartnerMotion
    extra = 0


class CountryInUseFilter(admin.SimpleListFilter):
    """The countries partners are in, not all 250 of the world's."""

    title = "country"
    parameter_name = "country"

    def lookups(self, request, model_admin):
        codes = Partner.objects.order_by().values_list("country", flat=True).distinct()
        return sorted(((code, countries.name(code)) for code in codes if code), key=lambda choice: str(choice[1]))

    def queryset(self, request, queryset):
        return queryset.filter(country=self.value()) if self.value() else queryset


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "country", "time_zone", "status", "partner_manager", "member_count"]
    list_filter = ["status", CountryInUseFilter, "motions"]
    list_select_related = ["partner_manager"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["partner_manager"]
    inlines = [PartnerMotionInline, MembershipInline]

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(_member_count=Count("memberships"))

    @admin.display(description="Members", ordering="_member_count")
    def member_count(self, partner):
        return partner._member_count


@admin.register(Motion)
class MotionAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "partner", "role", "is_support_contact", "joined_at"]
    list_filter = ["role", "is_support_contact"]
    list_select_related = ["user", "partner"]
    search_fields = ["user__email", "user__full_name", "partner__name"]
    autocomplete_fields = ["user", "partner"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "partner", "role", "invited_by", "created_at", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["role", "accepted_at", "revoked_at"]
    list_select_related = ["partner", "invited_by"]
    search_fields = ["email", "partner__name"]
    autocomplete_fields = ["partner", "invited_by"]
    readonly_fields = ["token_hash", "created_at", "accepted_at"]


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "unit", "aggregation"]
    list_filter = ["unit", "aggregation"]
    search_fields = ["name", "key"]
    prepopulated_fields = {"key": ["name"]}


class MetricImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="Columns: partner (slug), metric (key), recorded_on (YYYY-MM-DD), value, and optionally source. "
        "A file with any bad row is refused whole.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 10 * 1024 * 1024:
            raise ValidationError("The file is larger than 10 MB; split it.")
        return upload


@admin.register(MetricValue)
class MetricValueAdmin(admin.ModelAdmin):
    list_display = ["partner", "metric", "recorded_on", "value", "source", "metric_import"]
    list_filter = ["metric", "recorded_on"]
    list_select_related = ["partner", "metric", "metric_import"]
    search_fields = ["partner__name", "source"]
    autocomplete_fields = ["partner", "metric"]
    date_hierarchy = "recorded_on"
    change_list_template = "admin/programs/metricvalue/change_list.html"

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name="programs_metricvalue_import"), *super().get_urls()]

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = MetricImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                batch = services.import_metric_values(upload.read(), file_name=upload.name, by=request.user)
            except ValidationError as error:
                form.add_error("file", error)
            else:
                self.message_user(request, f"Imported {batch.row_count} metric values from {batch.file_name}.")
                return redirect("admin:programs_metricvalue_changelist")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "form": form,
            "title": "Import metric values",
            "columns": services.IMPORT_COLUMNS,
        }
        status = 400 if form.errors else 200
        return TemplateResponse(request, "admin/programs/metricvalue/import.html", context, status=status)


@admin.register(MetricImport)
class MetricImportAdmin(ReadOnlyAdmin):
    """Imports are recorded by the metric import page; a mistaken one's record may be deleted."""

    deletable = True
    list_display = ["file_name", "row_count", "imported_by", "imported_at"]
    list_select_related = ["imported_by"]
    search_fields = ["file_name"]
    readonly_fields = ["file_name", "row_count", "imported_by", "imported_at"]


@admin.register(Certification)
class CertificationAdmin(admin.ModelAdmin):
    list_display = ["name", "holder", "partner", "metric", "earned_on", "expires_on"]
    list_filter = ["metric", "expires_on"]
    list_select_related = ["partner", "metric"]
    search_fields = ["name", "holder", "partner__name"]
    autocomplete_fields = ["partner"]
