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
    """Send signed-in people who need a second factor to set it up or enter it before anything else.

    Staff and program managers always need one; partners once they turned it on. API requests with
    a personal token are not signed in here (DRF authenticates them in the view): a token is its
    own credential, created from a session that passed the second factor.
    """

    OPEN_PREFIXES = ("/accounts/two-factor/", "/accounts/logout/", "/static/", "/healthz", "/ping")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.http import JsonResponse
        from django.shortcuts import redirect
        from django.urls import reverse
        from django.utils.http import urlencode

        from .services import requires_two_factor

        user = request.user
        if (
            user.is_authenticated
            and not user.is_verified()
            and not request.path.startswith(self.OPEN_PREFIXES)
            and self.required(request, requires_two_factor)
        ):
            if request.path.startswith("/api/"):
                body = {"message": "Enter your two-factor code in the portal first.", "code": "two_factor_required"}
                return JsonResponse({**body, "fields": {}}, status=403)
            from django_otp import user_has_device

            target = "two_factor_verify" if user_has_device(user) else "two_factor_setup"
            return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    @staticmethod
    def required(request, requires_two_factor) -> bool:
        # Decided once per session (a query for partners), not on every request.
        if TWO_FACTOR_SESSION_KEY not in request.session:
            request.session[TWO_FACTOR_SESSION_KEY] = requires_two_factor(request.user)
        return request.session[TWO_FACTOR_SESSION_KEY]


TWO_FACTOR_SESSION_KEY = "two_factor_required"


def note_two_factor_requirement(sender, request, user, **kwargs):
    """On sign-in, note in the session whether the person needs a second factor (see TwoFactorMiddleware)."""
    from .services import requires_two_factor

    if hasattr(request, "session"):
        request.session[TWO_FACTOR_SESSION_KEY] = requires_two_factor(user)
