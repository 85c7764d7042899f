"""The OpenAPI schema: drf-spectacular's, with the token scheme and every error answer documented.

Kept apart from partnerportal.api: DRF imports the authentication classes while its own views
module loads, and drf-spectacular's schema classes import those views.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from .api import ErrorSerializer


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "programs.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A personal token from Account → API tokens."}


# --- Schema --------------------------------------------------------------------------------------

ERROR_STATUSES = {
    "400": "The request is not valid: see `fields`.",
    "401": "No credentials, or a token that is not valid.",
    "403": "Signed in, but this is not for your role.",
    "404": "Not found, or not yours to see.",
    "405": "Method not allowed.",
    "406": "Only JSON responses are offered.",
    "415": "Send JSON, form or multipart data.",
    "429": "Too many requests for this token: wait for Retry-After seconds.",
}


class PortalAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the error answers every operation can give."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for status, description in ERROR_STATUSES.items():
            if status == "415" and self.method in ("GET", "DELETE"):
                continue
            if status not in responses:
                response = self._get_response_for_code(ErrorSerializer, status, direction=direction)
                response["description"] = description
                responses[status] = response
        # Gunicorn refuses a request line over its limit (4,094 bytes) before Django sees it.
        responses["414"] = {
            "description": "The URL is longer than the web server takes (about 4 KiB): answered in HTML, before the API.",
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
        return responses
