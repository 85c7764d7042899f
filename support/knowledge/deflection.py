"""What partners did with suggested articles: opened one, solved it, or filed a ticket anyway."""

from programs.models import User
from support.models import Article, Deflection, Ticket


def record_deflection(
    *, kind: str, user: User, article: Article | None = None, ticket: Ticket | None = None, query: str = ""
) -> Deflection | None:
    """Record what a partner did with a suggested article (opened, solved, submitted a ticket anyway)."""
    partner = user.partner
    if partner is None:  # staff reading articles are not deflections
        return None
    return Deflection.objects.create(
        kind=kind, partner=partner, user=user, article=article, ticket=ticket, query=query[:200]
    )
