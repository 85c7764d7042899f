"""API sign-in with a personal token: `Authorization: Bearer pp_…` from the API tokens page.

DRF imports the authentication classes named in the settings while `rest_framework.views` loads,
so this module must not import that (or drf-spectacular) at the top.
"""

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from partnerportal.audit import audit_context, audit_enabled

from .services import api_token_user


class TokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer pp_…` with a personal token from the API tokens page."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() not in (b"bearer", b"token"):
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the token as “Authorization: Bearer <token>”.")
        try:
            secret = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is not valid.") from None
        found = api_token_user(secret)
        if found is None:
            raise exceptions.AuthenticationFailed("The token is not valid, or was revoked.")
        user, token = found
        if audit_enabled():
            # The audit middleware ran before DRF knew the user: label this request's writes now.
            audit_context(user=user.pk, api_token=token.pk)
        return user, token

    def authenticate_header(self, request):
        return self.keyword
