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
