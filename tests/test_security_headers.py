"""Every page carries a Content-Security-Policy that lets no inline script run; templates have none."""

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def directives(header: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/accounts/login/", "/kb/", "/program/", "/api/docs/", "/api/redoc/"])
def test_pages_forbid_inline_and_foreign_scripts(client, db, path):
    policy = directives(client.get(path)["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["default-src"]


def test_signed_in_pages_carry_the_policy(client_for, partner_member):
    response = client_for(partner_member).get("/tickets/")
    assert directives(response["Content-Security-Policy"])["script-src"] == ["'self'"]


def test_attachments_keep_their_own_stricter_policy(client_for, partner_member, ticket, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from support.pages.forms import check_upload
    from support.tickets import lifecycle

    settings.MEDIA_ROOT = tmp_path
    lifecycle.add_comment(
        ticket, by=partner_member, body="", attachments=[check_upload(SimpleUploadedFile("a.txt", b"<script>"))]
    )
    attachment = ticket.attachments.get()
    response = client_for(partner_member).get(f"/tickets/{ticket.pk}/attachments/{attachment.pk}/")
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_template_has_inline_script_or_event_handlers(template):
    text = template.read_text()
    assert not INLINE_SCRIPT.search(text), "inline <script>: move it to static/js/"
    assert not INLINE_HANDLER.search(text), "inline on…= handler: bind it from static/js/"


def test_a_session_ends_after_its_age(client, partner_member, settings, time_machine):
    from datetime import timedelta

    from django.utils import timezone

    time_machine.move_to(timezone.now(), tick=False)
    client.force_login(partner_member)
    assert client.get("/tickets/").status_code == 200
    time_machine.shift(timedelta(seconds=settings.SESSION_COOKIE_AGE + 60))
    response = client.get("/tickets/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_session_and_csrf_cookies_are_locked_down_in_production():
    from django.conf import settings

    assert settings.SESSION_COOKIE_HTTPONLY is True
    assert settings.SESSION_COOKIE_AGE <= 12 * 3600
    assert settings.SESSION_COOKIE_SAMESITE == "Lax" and settings.CSRF_COOKIE_SAMESITE == "Lax"
    assert settings.X_FRAME_OPTIONS == "DENY"
