from django import forms

from .models import NoticeKind


class ClaimAccountForm(forms.Form):
    account_name = forms.CharField(
        label="Account", max_length=200, help_text="The customer's legal or trading name, as in your CRM."
    )


class EngagementForm(forms.Form):
    note = forms.CharField(
        label="What happened", max_length=500, help_text="A meeting, a demo, a proposal sent…", strip=True
    )


class NoticePreferencesForm(forms.Form):
    kinds = forms.MultipleChoiceField(
        label="Mail me when",
        choices=NoticeKind.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Untick them all to get no notice by mail; they stay on your notices page.",
    )
