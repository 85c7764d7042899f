"""What every endpoint of the REST API shares: throttling, paging, errors, roles.

Token sign-in is programs' (`programs.authentication`): people and their tokens live there.

Errors have one JSON shape whatever raised them (a serializer, a service's ValidationError or
PermissionDenied, a 404, the throttle):

    {"message": "…", "code": "invalid", "fields": {"title": "This field is required."}}

`fields` names each field that was wrong with its message (empty when the error is not about a
field). The OpenAPI schema documents this shape for every error status of every operation
(partnerportal.api_schema).

DRF imports the throttle, filter and paging classes named in the settings while
`rest_framework.views` loads, so this module must not import that (or drf-spectacular) at the top.
"""

from datetime import UTC, timedelta

import django_filters
from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django_filters.fields import IsoDateTimeField
from rest_framework import exceptions, filters, pagination, permissions, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.throttling import SimpleRateThrottle

NON_FIELD = "non_field_errors"
MAX_UTC_OFFSET = timedelta(hours=14)  # the widest offset in use (Kiribati, UTC+14)


# --- Throttling ----------------------------------------------------------------------------------


class TokenRateThrottle(SimpleRateThrottle):
    """API_THROTTLE_RATE requests per token (per person for browser sessions)."""

    scope = "api"

    def get_rate(self):
        return settings.API_THROTTLE_RATE  # read per request, so tests and operators can change it

    def get_cache_key(self, request, view):
        # Throttles run after authentication: only the public schema and docs see anonymous requests.
        if request.auth is not None and hasattr(request.auth, "digest"):
            return f"throttle-api-token-{request.auth.pk}"
        return f"throttle-api-user-{request.user.pk}" if request.user.is_authenticated else None


# --- Paging --------------------------------------------------------------------------------------


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class CursorPagination(pagination.CursorPagination):
    """Cursor paging for lists that grow without bound (tickets): no count, stable under inserts.

    A page costs the same at any list size, where a page number needs a COUNT of every row and an
    OFFSET past the earlier pages. The order is the view's (`?ordering=` or its default).
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def schema_only(view) -> bool:
    """Return True while drf-spectacular builds the schema (no real request or user)."""
    return getattr(view, "swagger_fake_view", False)


class StableOrderingFilter(filters.OrderingFilter):
    """`?ordering=` with the primary key as the last tie-breaker, so rows that tie (same severity,
    same minute) come in one order on every page: paging never skips or repeats one."""

    def get_ordering(self, request, queryset, view):
        ordering = list(super().get_ordering(request, queryset, view) or [])
        named = {str(field).lstrip("-") for field in ordering if isinstance(field, str)}
        if ordering and not named & {"id", "pk"}:
            ordering.append("id")
        return ordering


class InstantField(IsoDateTimeField):
    """An ISO 8601 instant, turned into UTC here: an offset the database cannot store (beyond ±15:59,
    though Python takes up to ±24 h) or a date past year 9999 once in UTC is a 400, not a 500."""

    def clean(self, value):
        instant = super().clean(value)
        if instant is None:
            return None
        if abs(instant.utcoffset()) > MAX_UTC_OFFSET:
            raise DjangoValidationError("Give a time zone offset between -14:00 and +14:00.")
        try:
            return instant.astimezone(UTC)
        except OverflowError:
            raise DjangoValidationError("Give a date between the years 1 and 9999.") from None


class InstantFilter(django_filters.IsoDateTimeFilter):
    field_class = InstantField


# --- Roles ---------------------------------------------------------------------------------------


class IsPartner(permissions.BasePermission):
    message = "This endpoint is for partner accounts."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.membership is not None)


class IsPartnerAdmin(permissions.BasePermission):
    message = "Only a partner admin can use this endpoint."

    def has_permission(self, request, view):
        membership = request.user.membership if request.user and request.user.is_authenticated else None
        return bool(membership is not None and membership.is_admin)


def staff_roles(*roles):
    """Return a permission class letting in staff who hold one of `roles` (superusers hold all)."""

    class HasStaffRole(permissions.BasePermission):
        message = "Your role does not include this endpoint."

        def has_permission(self, request, view):
            return bool(request.user and request.user.is_authenticated and request.user.has_staff_role(*roles))

    return HasStaffRole


# --- Errors --------------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    message = serializers.CharField(help_text="What went wrong, in a sentence.")
    code = serializers.CharField(help_text="A stable code: invalid, not_found, permission_denied, throttled, …")
    fields = serializers.DictField(  # type: ignore[assignment]  # a declared field: DRF's metaclass moves it off the class
        child=serializers.CharField(), help_text="The message for each field that was wrong (dotted paths)."
    )


def _flatten(detail, prefix="") -> dict[str, str]:
    """Return {field path: message} for DRF's nested error details."""
    if isinstance(detail, dict):
        flat = {}
        for key, value in detail.items():
            flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or NON_FIELD: " ".join(str(item) for item in detail)} if detail else {}
        flat = {}
        for index, item in enumerate(detail):
            flat.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix or NON_FIELD: str(detail)}


def error_body(message: str, code: str, fields: dict[str, str] | None = None) -> dict:
    return {"message": message, "code": code, "fields": fields or {}}


def _from_django(exc):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD: exc.messages}
        return exceptions.ValidationError(detail)
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, Http404):
        return exceptions.NotFound("Not found: it does not exist, or it is not yours to see.")
    return exc


def exception_handler(exc, context):
    """Answer every API error with the one JSON shape, the status and headers DRF chose."""
    from rest_framework.views import exception_handler as drf_exception_handler  # see the module docstring

    exc = _from_django(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a server error: Django's handler500 answers it (as JSON under /api/)
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        general = fields.pop(NON_FIELD, "")
        if fields:
            message = general or "Some fields are not valid: " + ", ".join(sorted(fields)) + "."
        else:
            message = general or "The request is not valid."
        response.data = error_body(message, "invalid", fields)
    elif isinstance(exc, exceptions.Throttled):
        wait = f" Try again in {int(exc.wait) + 1} seconds." if exc.wait is not None else ""
        message = f"Too many requests: the limit is {settings.API_THROTTLE_RATE} per token.{wait}"
        response.data = error_body(message, "throttled")
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        response.data = error_body(str(detail), code if isinstance(code, str) else "error")
    return response


@csrf_exempt  # it changes nothing: a POST to an unknown URL gets the JSON 404, not the CSRF page
def not_found(request, *args, **kwargs):
    """Answer an unknown /api/ URL with the API's error shape instead of the HTML 404 page."""
    return JsonResponse(error_body("There is no such API endpoint. See /api/docs/.", "not_found"), status=404)


def server_error_body() -> dict:
    return error_body("Something went wrong on our side; it was logged. Try again later.", "server_error")
