"""View decorators that check who may open a page: a role, never `is_staff` alone."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


def partner_required(view):
    """Let in signed-in people who work for a partner; `request.membership` is theirs."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        membership = request.user.membership
        if membership is None:
            raise PermissionDenied("This page is for partner accounts.")
        request.membership = membership
        return view(request, *args, **kwargs)

    return wrapper


def partner_admin_required(view):
    """Let in partner admins only; partner members get 403."""

    @partner_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.membership.is_admin:
            raise PermissionDenied("Only a partner admin can do this.")
        return view(request, *args, **kwargs)

    return wrapper


def staff_role_required(*roles):
    """Let in staff holding one of `roles` (superusers hold all)."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.has_staff_role(*roles):
                raise PermissionDenied("Your role does not include this page.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def lockout_username(request, credentials=None) -> str:
    """Return the sign-in name django-axes counts failures against: the email, case-folded.

    Emails match case-insensitively at sign-in, so `Ann@x` and `ann@x` must share one counter.
    """
    source = credentials if credentials else getattr(request, "data", request.POST)
    return (source.get("username") or "").strip().lower()


class TwoFactorMiddleware:
    """Send signed-in people who need a second factor to enter it (or set it up) before anything else.

    Staff and program managers always need one; partners once they turned it on (checked on every
    request: turning it on elsewhere takes effect at once). Until the code is entered, only the
    code page, sign-out and, for someone without an app yet, the setup page open: with a password
    alone nobody can add an app, get recovery codes or turn the second factor off. API requests
    with a personal token are not signed in here (DRF authenticates them in the view): a token is
    its own credential, created from a session that passed the second factor.
    """

    ALWAYS_OPEN = ("/accounts/logout/", "/static/", "/healthz", "/ping", "/favicon.ico")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.http import JsonResponse
        from django.shortcuts import redirect
        from django.urls import reverse
        from django.utils.http import urlencode

        from .services import has_authenticator, two_factor_mandatory

        user = request.user
        if not user.is_authenticated or user.is_verified() or request.path.startswith(self.ALWAYS_OPEN):
            return self.get_response(request)
        enrolled = has_authenticator(user)
        if not (enrolled or two_factor_mandatory(user)):
            return self.get_response(request)  # a partner who has not turned it on
        target = reverse("two_factor_verify" if enrolled else "two_factor_setup")
        if request.path == target:
            request.second_factor_pending = True  # the page shows no menu: nothing else opens yet
            return self.get_response(request)
        if request.path.startswith("/api/"):
            body = {"message": "Enter your two-factor code in the portal first.", "code": "two_factor_required"}
            return JsonResponse({**body, "fields": {}}, status=403)
        return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
