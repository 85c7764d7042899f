from base64 import b32encode
from functools import wraps

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from . import services
from .access import partner_admin_required
from .forms import AcceptInvitationForm, ApiTokenForm, InviteMemberForm, TwoFactorCodeForm
from .models import ApiToken, Invitation, Membership


@login_required
def home(request):
    if request.user.is_portal_staff:
        return render(request, "programs/staff_home.html")
    if request.user.membership is None:
        raise PermissionDenied("Your account is not linked to a partner. Ask your partner admin for an invitation.")
    return _partner_home(request, InviteMemberForm())


def _partner_home(request, invite_form, status=200):
    membership = request.user.membership
    partner = membership.partner
    context = {
        "partner": partner,
        "membership": membership,
        "motions": partner.partner_motions.select_related("motion"),
        "members": Membership.objects.for_user(request.user).filter(partner=partner).select_related("user"),
        "invitations": Invitation.objects.for_user(request.user).pending().select_related("invited_by")
        if membership.is_admin
        else [],
        "invite_form": invite_form,
    }
    return render(request, "programs/partner_home.html", context, status=status)


@partner_admin_required
def invite_member(request):
    if request.method != "POST":
        return render(request, "programs/invite.html", {"form": InviteMemberForm()})
    form = InviteMemberForm(request.POST)
    if form.is_valid():
        try:
            invitation, _ = services.invite_member(
                request.membership.partner,
                **form.cleaned_data,
                by=request.user,
                base_url=request.build_absolute_uri("/"),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("home")
    return render(request, "programs/invite.html", {"form": form}, status=400)


@require_POST
@partner_admin_required
def revoke_invitation(request, pk):
    invitation = get_object_or_404(Invitation.objects.for_user(request.user).pending(), pk=pk)
    services.revoke_invitation(invitation, by=request.user)
    messages.success(request, f"The invitation to {invitation.email} was revoked.")
    return redirect("home")


@require_POST
@partner_admin_required
def remove_member(request, pk):
    membership = get_object_or_404(Membership.objects.for_user(request.user).select_related("user"), pk=pk)
    try:
        services.remove_member(membership, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{membership.user} was removed and can no longer sign in.")
    return redirect("home")


def accept_invitation(request, token):
    invitation = services.find_invitation(token)
    if invitation is None or not invitation.is_usable(timezone.now()):
        return render(request, "programs/invitation_invalid.html", status=404)
    if request.user.is_authenticated:
        return render(request, "programs/accept_invitation.html", {"invitation": invitation, "signed_in": True})
    form = AcceptInvitationForm(
        request.POST or None, invitation=invitation, initial={"full_name": invitation.full_name}
    )
    if request.method == "POST" and form.is_valid():
        try:
            user = services.accept_invitation(
                invitation, full_name=form.cleaned_data["full_name"], password=form.cleaned_data["password1"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to {invitation.partner.name} on Partner Portal.")
            return redirect("home")
    status = 400 if request.method == "POST" else 200
    return render(request, "programs/accept_invitation.html", {"invitation": invitation, "form": form}, status=status)


@never_cache
@login_required
def api_tokens(request):
    """List my API tokens; create one (its secret is shown on this answer only)."""
    form = ApiTokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        try:
            _token, secret = services.create_api_token(request.user, name=form.cleaned_data["name"])
        except ValidationError as error:
            form.add_error(None, error)  # a {"name": …} error lands on the name field
        else:
            form = ApiTokenForm()
    context = {
        "form": form,
        "secret": secret,
        "tokens": ApiToken.objects.filter(user=request.user),
    }
    return render(request, "programs/api_tokens.html", context, status=400 if form.errors else 200)


@require_POST
@login_required
def revoke_api_token(request, pk):
    token = get_object_or_404(ApiToken.objects.filter(user=request.user), pk=pk)
    try:
        services.revoke_api_token(token, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"The token “{token.name}” is revoked: requests using it now get 401.")
    return redirect("api_tokens")


# --- Two-factor sign-in -------------------------------------------------------------------------


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else reverse("home")


@login_required
def two_factor(request):
    """Where a person sees their two-factor sign-in and manages recovery codes."""
    from django_otp.plugins.otp_static.models import StaticToken
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    context = {
        "device": device,
        "recovery_left": StaticToken.objects.filter(device__user=request.user).count(),
        "required": services.two_factor_mandatory(request.user),
    }
    return render(request, "registration/two_factor.html", context)


def _verified_if_enrolled(view):
    """Managing a second factor needs the second factor: a password alone cannot replace the app,
    get recovery codes or turn it off (the middleware lets only setup without an app through)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if services.has_authenticator(request.user) and not request.user.is_verified():
            return redirect(f"{reverse('two_factor_verify')}?next={reverse('two_factor')}")
        return view(request, *args, **kwargs)

    return wrapper


@never_cache
@login_required
@_verified_if_enrolled
def two_factor_setup(request):
    """Add an authenticator app: scan the code, enter what it shows; recovery codes are shown once."""
    import segno

    device = services.start_totp_setup(request.user)
    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = services.confirm_totp(device, code=form.cleaned_data["code"])
        except ValidationError as error:
            form.add_error("code", error.message_dict["code"])
        else:
            otp_login(request, device)
            context = {"codes": codes, "next": _next_url(request)}
            return render(request, "registration/two_factor_codes.html", context)
    context = {
        "form": form,
        "qr": mark_safe(segno.make(device.config_url, error="m").svg_inline(scale=4, omitsize=False)),  # noqa: S308 (our own SVG)
        "secret": b32encode(device.bin_key).decode(),
        "next": request.GET.get("next", ""),
    }
    return render(request, "registration/two_factor_setup.html", context, status=400 if form.errors else 200)


@never_cache
@login_required
def two_factor_verify(request):
    """The second step of signing in: a code from the authenticator app, or a recovery code."""
    from django_otp import match_token

    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["code"].strip().replace(" ", "").lower())
        if device is None:
            form.add_error("code", "That code does not match, or was used already. Try the code your app shows now.")
        else:
            otp_login(request, device)
            if device.name == services.RECOVERY_DEVICE_NAME:
                messages.warning(request, "You signed in with a recovery code; it cannot be used again.")
            return redirect(_next_url(request))
    context = {"form": form, "next": request.GET.get("next", "")}
    return render(request, "registration/two_factor_verify.html", context, status=400 if form.errors else 200)


@never_cache
@require_POST
@login_required
@_verified_if_enrolled
def two_factor_recovery_codes(request):
    try:
        codes = services.regenerate_recovery_codes(request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("two_factor")
    return render(request, "registration/two_factor_codes.html", {"codes": codes, "next": reverse("two_factor")})


@require_POST
@login_required
@_verified_if_enrolled
def two_factor_disable(request):
    try:
        services.disable_two_factor(request.user, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Two-factor sign-in is off. You can turn it on again at any time.")
    return redirect("two_factor")
