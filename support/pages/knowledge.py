"""Knowledge base pages, suggest-as-you-type, and the one-time rating link."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import F
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from programs.access import partner_required
from support.insight import csat
from support.knowledge import articles, deflection
from support.knowledge import search as kb
from support.models import Article, CsatResponse, Deflection
from support.pages.forms import CsatForm

SEARCH_RESULTS = 20
SUGGESTIONS = 3


def kb_index(request):
    query = request.GET.get("q", "").strip()[:200]
    articles = Article.objects.visible_to(request.user)
    context = {"query": query}
    if query:
        context["results"] = kb.search(query, user=request.user, limit=SEARCH_RESULTS)
    else:
        by_category = {}
        for article in articles.select_related("category").only("title", "slug", "summary", "category"):
            by_category.setdefault(article.category, []).append(article)
        order = sorted(by_category, key=lambda category: (category.position, category.name))
        context["categories"] = [(category, by_category[category]) for category in order]
    return render(request, "support/kb_index.html", context)


def kb_article(request, slug):
    article = get_object_or_404(Article.objects.visible_to(request.user).select_related("category"), slug=slug)
    Article.objects.filter(pk=article.pk).update(views=F("views") + 1)
    suggested_for = request.GET.get("suggested_for", "")[:200]
    if suggested_for and request.user.is_authenticated:
        deflection.record_deflection(
            kind=Deflection.Kind.OPENED, user=request.user, article=article, query=suggested_for
        )
    context = {"article": article, "body": articles.render_markdown(article.body), "suggested_for": suggested_for}
    return render(request, "support/kb_article.html", context)


@require_GET
def kb_suggest(request):
    """Return the best three articles for the typed title, as an HTML fragment for kb-suggest.js."""
    query = request.GET.get("q", "")[:200]
    matches = kb.search(query, user=request.user, limit=SUGGESTIONS)
    return render(request, "support/_partials/kb_suggestions.html", {"matches": matches, "query": query})


@partner_required
@require_POST
def kb_solved(request, slug):
    article = get_object_or_404(Article.objects.visible_to(request.user), slug=slug)
    deflection.record_deflection(
        kind=Deflection.Kind.SOLVED, user=request.user, article=article, query=request.POST.get("suggested_for", "")
    )
    messages.success(request, f"Glad “{article.title}” solved it. No ticket was filed.")
    return redirect("ticket_list")


def csat_link(request, token):
    """Rate a resolved ticket from the link in the resolution email; no sign-in needed, once."""
    try:
        ticket = csat.ticket_for_csat_token(token)
    except ValidationError as error:
        return render(request, "support/csat.html", {"refusal": error.messages[0]}, status=400)
    done = CsatResponse.objects.filter(ticket=ticket).first()
    if done is None and ticket.is_open:
        refusal = "This ticket was reopened. You can rate it once it is resolved again."
        return render(
            request, "support/csat.html", {"refusal": refusal}, status=400 if request.method == "POST" else 200
        )
    form = CsatForm(request.POST or None, initial={"score": request.GET.get("score")})
    if request.method == "POST" and done is None and form.is_valid():
        by = ticket.submitter if request.user.is_anonymous else request.user
        try:
            done = csat.rate_ticket(ticket, by=by, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Thank you: your rating was recorded.")
            return redirect("csat_link", token=token)
    status = 400 if form.errors else 200
    return render(request, "support/csat.html", {"ticket": ticket, "form": form, "done": done}, status=status)
