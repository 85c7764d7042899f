from typing import TYPE_CHECKING

from django import forms
from django.urls import reverse

from support.models import SEVERITY_GUIDE, Severity, Ticket
from support.tickets.uploads import check_upload

if TYPE_CHECKING:
    from programs.models import User


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    widget = MultipleFileInput

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        if len(files) > 5:
            raise forms.ValidationError("Attach at most 5 files at a time.")
        return [check_upload(super(AttachmentsField, self).clean(item, initial)) for item in files]


def severity_choices():
    return [(value, f"{label}: {SEVERITY_GUIDE[value][0]}") for value, label in Severity.choices]


class TicketForm(forms.ModelForm):
    attachments = AttachmentsField(help_text="Logs, screenshots, HAR files: up to 5 files.")
    # Set by static/js/kb-suggest.js to the title the last suggestions were shown for.
    suggested_for = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    class Meta:
        model = Ticket
        fields = [
            "title",
            "severity",
            "category",
            "customer_name",
            "environment",
            "environment_details",
            "steps_to_reproduce",
            "business_impact",
        ]
        widgets = {
            "severity": forms.RadioSelect,
            "steps_to_reproduce": forms.Textarea(attrs={"rows": 5}),
            "business_impact": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "title": "One line: what is broken, for whom.",
            "steps_to_reproduce": "What your team did to reproduce it, what happened, and what should have happened.",
            "business_impact": "Who is affected and how badly: users, revenue, deadlines.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["severity"].choices = severity_choices()
        self.fields["title"].widget.attrs.update(
            {"autocomplete": "off", "maxlength": 200, "data-suggest": reverse("kb_suggest")}
        )


class CommentForm(forms.Form):
    body = forms.CharField(label="Message", widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=20000)
    attachments = AttachmentsField()


class StaffCommentForm(CommentForm):
    internal = forms.BooleanField(label="Internal note (partners do not see it)", required=False)


class SeverityForm(forms.Form):
    severity = forms.ChoiceField(choices=severity_choices, widget=forms.RadioSelect)
    reason = forms.CharField(max_length=500)


class TransitionForm(forms.Form):
    message = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class EscalateForm(forms.Form):
    """Staff escalate by hand: a level above the working one, and why."""

    rank = forms.TypedChoiceField(label="Level", coerce=int)
    reason = forms.CharField(label="Why", max_length=500)

    def __init__(self, *args, levels=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rank"].choices = [(level["rank"], f"{level['rank']}. {level['name']}") for level in levels]


class EscalationRequestForm(forms.Form):
    """A partner asks for escalation, with the reason; executive escalation where the plan includes it."""

    reason = forms.CharField(
        label="Why it needs escalating",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The impact now: customers affected, deadlines, what changed since you filed it.",
    )
    executive = forms.BooleanField(label="Ask for executive escalation", required=False)


class CsatForm(forms.Form):
    score = forms.TypedChoiceField(
        label="How did we do?",
        choices=[(5, "5 · Excellent"), (4, "4 · Good"), (3, "3 · OK"), (2, "2 · Poor"), (1, "1 · Very poor")],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a score from 1 to 5."},
    )
    comment = forms.CharField(
        label="Anything we should know?", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ActionItemForm(forms.Form):
    description = forms.CharField(label="Action", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    owner: "forms.ModelChoiceField[User]" = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="Nobody yet"
    )
    due_on = forms.DateField(label="Due", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        from programs.models import User

        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = User.objects.filter(is_active=True, groups__isnull=False).distinct()


class CloseActionItemForm(forms.Form):
    outcome = forms.CharField(
        label="What was done", max_length=2000, error_messages={"required": "Say what was done before closing it."}
    )


class QueueBulkForm(forms.Form):
    """An action on the tickets ticked in the queue."""

    ACTIONS = {"acknowledge": "Acknowledge", "assign_to_me": "Assign to me"}
    MAX_TICKETS = 200

    action = forms.ChoiceField(
        choices=[("", "Choose an action"), *ACTIONS.items()],
        error_messages={"required": "Choose what to do with the ticked tickets."},
    )
    tickets = forms.ModelMultipleChoiceField(
        queryset=Ticket.objects.none(),
        error_messages={
            "required": "Tick at least one ticket first.",
            "invalid_choice": "Ticket %(value)s is not an open ticket of the queue.",
            "invalid_pk_value": "“%(pk)s” is not a ticket number.",
        },
    )

    def __init__(self, *args, user: "User", **kwargs):
        super().__init__(*args, **kwargs)
        tickets = self.fields["tickets"]
        assert isinstance(tickets, forms.ModelMultipleChoiceField)
        tickets.queryset = Ticket.objects.for_user(user).open().order_by("pk")

    def clean_tickets(self):
        tickets = self.cleaned_data["tickets"]
        if len(tickets) > self.MAX_TICKETS:
            raise forms.ValidationError(f"Act on at most {self.MAX_TICKETS} tickets at once.")
        return tickets
