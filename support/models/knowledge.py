"""The knowledge base: articles, their categories, and what partners did with suggestions."""

import pghistory
from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from programs.models import Partner

from .tickets import Ticket


class ArticleQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Return the published articles `user` may read (Article.audiences_for)."""
        return self.filter(published=True, audience__in=Article.audiences_for(user))


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class ArticleCategory(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower comes first on the knowledge base page.")

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "article categories"

    def __str__(self):
        return self.name


# The view counter moves on every read: it writes no history.
@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent(), exclude=["views"])
class Article(models.Model):
    """A knowledge base article; the body is Markdown, rendered and sanitised on display."""

    class Audience(models.TextChoices):
        PUBLIC = "public", "Public"
        PARTNERS = "partners", "Partners"
        INTERNAL = "internal", "Internal runbook"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    category = models.ForeignKey(ArticleCategory, on_delete=models.PROTECT, related_name="articles")
    audience = models.CharField(max_length=10, choices=Audience.choices, default=Audience.PARTNERS)
    summary = models.CharField(max_length=300, blank=True, help_text="One sentence shown in search results.")
    body = models.TextField(help_text="Markdown. HTML is sanitised; scripts never run.")
    published = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    views = models.PositiveIntegerField(default=0, editable=False)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        indexes = [models.Index(fields=["category", "title"], name="article_category_idx")]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("kb_article", args=[self.slug])

    @classmethod
    def audiences_for(cls, user) -> list[str]:
        """Return the audiences `user` may read: public for everyone, partner articles for
        signed-in people, internal runbooks for our staff only."""
        audiences: list[str] = [cls.Audience.PUBLIC]
        if user.is_authenticated:
            audiences.append(cls.Audience.PARTNERS)
            if user.is_portal_staff:
                audiences.append(cls.Audience.INTERNAL)
        return audiences


class Deflection(models.Model):
    """What a partner did with the articles suggested while filing a ticket (deflection: did the knowledge base answer before a ticket was filed)."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Suggestion opened"
        SOLVED = "solved", "This solved it"
        SUBMITTED = "submitted", "Ticket submitted anyway"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    article = models.ForeignKey(Article, null=True, blank=True, on_delete=models.SET_NULL, related_name="deflections")
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    query = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["at", "kind"], name="deflection_at_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.article or self.query}"
