"""Articles as partners read them: the body rendered safely, and the date that says when it changed."""

from collections.abc import Iterable

import markdown
import nh3
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from support.models import Article

# What a reader sees of an article: editing anything else (category, audience…) is not an update.
READER_FIELDS = {"title", "summary", "body"}


ALLOWED_TAGS = nh3.ALLOWED_TAGS | {"pre", "code", "table", "thead", "tbody", "tr", "th", "td", "hr"}


def render_markdown(body: str) -> SafeString:
    """Return `body` (Markdown) as HTML with anything that could run script removed."""
    html = markdown.markdown(body, extensions=["fenced_code", "tables", "sane_lists"], output_format="html")
    return mark_safe(nh3.clean(html, tags=ALLOWED_TAGS, link_rel="noopener noreferrer nofollow"))  # noqa: S308


def save_article(article: Article, *, changed_fields: Iterable[str]) -> Article:
    """Save an article edited by hand; its "updated" date moves only when what readers see changes."""
    if article.pk is None or READER_FIELDS & set(changed_fields):
        article.updated_at = timezone.now()
    article.save()
    return article
