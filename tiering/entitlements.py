"""What a tier entitles partners to beyond tiering's own benefits catalogue, as the apps above report it.

Tiering shows these on its pages without knowing where they come from: an app higher in the
layers (support: the support plan) registers a source when it starts, and tiering asks the
sources for the tiers a page shows, one call each.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from .models import Tier


@dataclass(frozen=True)
class Entitlement:
    """One thing a tier gives, such as ("Support plan", "Premier")."""

    label: str
    name: str


EntitlementSource = Callable[[Sequence[Tier]], Mapping[int, list[Entitlement]]]

_sources: list[EntitlementSource] = []


def register_source(source: EntitlementSource) -> None:
    """Add a source of entitlements (once: registering the same source again does nothing)."""
    if source not in _sources:
        _sources.append(source)


def entitlements_of(tiers: Iterable[Tier]) -> dict[int, list[Entitlement]]:
    """Return each tier's entitlements by tier id (tiers with none are left out)."""
    tiers = list(tiers)
    found: dict[int, list[Entitlement]] = defaultdict(list)
    if not tiers:
        return found
    for source in _sources:
        for tier_id, entitlements in source(tiers).items():
            found[tier_id].extend(entitlements)
    return found
