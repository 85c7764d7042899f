from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from programs.access import partner_required

from . import claims, selectors
from . import notices as notice_services
from .forms import ClaimAccountForm, EngagementForm, NoticePreferencesForm
from .models import EXCLUSIVITY_DAYS, AccountClaim, Benefit, MdfCriterion, Notice

NOTICES_PER_PAGE = 20


@partner_required
def my_tiers(request):
    partner = request.membership.partner
    today = timezone.localdate()
    context = {
        "partner": partner,
        "today": today,
        "motions": selectors.partner_tiers(partner, today),
        "mdf": selectors.mdf_eligibility(partner, today),
    }
    return render(request, "tiering/my_tiers.html", context)


def program(request):
    today = timezone.localdate()
    context = {
        "ladders": selectors.program_overview(today),
        "mdf_criteria": MdfCriterion.objects.select_related("metric"),
        "costly_benefits": Benefit.objects.filter(is_costly=True),
        "today": today,
    }
    return render(request, "tiering/program.html", context)


@partner_required
def account_claims(request):
    partner = request.membership.partner
    form = ClaimAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            claim = claims.claim_account(partner, account_name=form.cleaned_data["account_name"], by=request.user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"{claim.account_name} is yours until {claim.expires_at:%d %b %Y}.")
            return redirect("account_claims")
    partner_claims = (
        AccountClaim.objects.for_user(request.user).prefetch_related("engagements").order_by("-claimed_at")[:100]
    )
    context = {
        "form": form,
        "engagement_form": EngagementForm(),
        "claims": partner_claims,
        "entitled": claims.holds_exclusivity(partner),
        "exclusivity_days": EXCLUSIVITY_DAYS,
        "engagement_days": settings.EXCLUSIVITY_ENGAGEMENT_DAYS,
    }
    return render(request, "tiering/account_claims.html", context, status=400 if form.errors else 200)


@require_POST
@partner_required
def log_engagement(request, pk):
    claim = get_object_or_404(AccountClaim.objects.for_user(request.user), pk=pk)
    form = EngagementForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say what happened on the account (up to 500 characters).")
        return redirect("account_claims")
    try:
        claims.log_engagement(claim, by=request.user, note=form.cleaned_data["note"])
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Engagement on {claim.account_name} logged.")
    return redirect("account_claims")


@require_POST
@partner_required
def withdraw_claim(request, pk):
    claim = get_object_or_404(AccountClaim.objects.for_user(request.user), pk=pk)
    try:
        claims.release_claim(claim, reason=AccountClaim.Release.WITHDRAWN, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{claim.account_name} is released; other partners can claim it now.")
    return redirect("account_claims")


@partner_required
def notices(request):
    """Everything the program told the partner, newest first."""
    partner = request.membership.partner
    found = Notice.objects.for_user(request.user).filter(partner=partner)
    page = Paginator(found, NOTICES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "tiering/notices.html", {"partner": partner, "page": page})


@partner_required
def notice_preferences(request):
    """Which notices this person gets by mail (all of them appear on the notices page either way)."""
    chosen = notice_services.mail_choices(request.user)
    form = NoticePreferencesForm(
        request.POST or None, initial={"kinds": [kind for kind, mail in chosen.items() if mail]}
    )
    if request.method == "POST" and form.is_valid():
        notice_services.set_mail_choices(request.user, form.cleaned_data["kinds"])
        messages.success(request, "Saved: you get the notices ticked below by mail.")
        return redirect("notice_preferences")
    return render(request, "tiering/notice_preferences.html", {"form": form}, status=400 if form.errors else 200)
