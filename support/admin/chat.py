"""Staff chat channels in the admin: which rooms hear about which tickets, a test message, the alerts sent."""

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from partnerportal.admin import ReadOnlyAdmin
from support.escalation import chat
from support.models import ChatAlert, ChatChannel, Severity


class ChatChannelForm(forms.ModelForm):
    severities = forms.MultipleChoiceField(
        choices=Severity.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[Severity.P1, Severity.P2],
        help_text="Tickets of these severities are posted.",
    )
    url = forms.URLField(
        label="Webhook URL",
        max_length=2000,
        assume_scheme="https",
        widget=forms.PasswordInput(render_value=True),
        help_text="The room's incoming-webhook address. It is a secret: anyone holding it can post to the room.",
    )

    class Meta:
        model = ChatChannel
        fields = [
            "name",
            "flavour",
            "url",
            "severities",
            "on_escalation",
            "on_breach",
            "levels",
            "schedules",
            "is_active",
        ]


@admin.register(ChatChannel)
class ChatChannelAdmin(admin.ModelAdmin):
    form = ChatChannelForm
    list_display = ["name", "flavour", "posts", "on_escalation", "on_breach", "is_active"]
    list_filter = ["flavour", "is_active"]
    search_fields = ["name"]
    filter_horizontal = ["levels", "schedules"]
    readonly_fields = ["latest_alerts"]
    actions = ["send_test_message"]
    LATEST = 20

    @admin.display(description="Latest alerts")
    def latest_alerts(self, channel: ChatChannel) -> str:
        if channel.pk is None:
            return "—"
        latest = channel.alerts.order_by("-created_at", "-pk")[: self.LATEST]
        rows = format_html_join(
            "",
            "<li>{} · {} · {}{}</li>",
            (
                (
                    f"{alert.created_at:%d %b %H:%M}",
                    alert.get_state_display(),
                    alert.text.splitlines()[0],
                    f" (answered {alert.last_status})" if alert.last_status else "",
                )
                for alert in latest
            ),
        )
        everything = reverse("admin:support_chatalert_changelist") + f"?channel__id__exact={channel.pk}"
        return format_html('<ul class="plain">{}</ul><a href="{}">All alerts of this channel</a>', rows, everything)

    @admin.display(description="Severities")
    def posts(self, channel: ChatChannel) -> str:
        return ", ".join(channel.severities)

    @admin.action(description="Send a test message to the selected channels", permissions=["change"])
    def send_test_message(self, request, queryset):
        for channel in queryset:
            alert = chat.test_message(channel, by_name=request.user.get_full_name() or request.user.email)
            if alert.state == ChatAlert.State.SENT:
                self.message_user(request, f"{channel}: the room accepted the test message ({alert.last_status}).")
            else:
                answer = f"answered {alert.last_status}" if alert.last_status else alert.last_error
                self.message_user(request, f"{channel}: the test message was refused: {answer}", messages.ERROR)


@admin.register(ChatAlert)
class ChatAlertAdmin(ReadOnlyAdmin):
    """Read-only: alerts are written by escalations and breaches and posted by the worker."""

    list_display = ["created_at", "channel", "kind", "ticket", "state", "attempts", "last_status"]
    list_filter = ["state", "kind", "channel"]
    list_select_related = ["channel", "ticket"]
    search_fields = ["text"]
    date_hierarchy = "created_at"
    exclude = ["payload"]
    readonly_fields = ["shown_payload"]

    @admin.display(description="Posted JSON")
    def shown_payload(self, alert: ChatAlert) -> str:
        import json

        return json.dumps(alert.payload, indent=2, ensure_ascii=False)
