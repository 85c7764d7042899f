"""Time-zone arithmetic shared by the business-time and on-call rules. Pure Python: no Django.

Naive datetimes here are UTC: arithmetic between aware datetimes that share a tzinfo ignores
their offsets, so the rules convert to naive UTC once, compute, and make the result aware again.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_SECOND = timedelta(seconds=1)
# No zone changes its offset twice within a few hours and back again, so probing this often finds
# every transition (a change between two probes with different offsets is found by bisection).
_PROBE_STEP = timedelta(hours=6)


def load_zone(name: str) -> ZoneInfo:
    """Return the IANA zone `name`, or raise ValueError saying what a zone name looks like."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError) as exc:
        raise ValueError(f"Unknown time zone {name!r}: expected an IANA name such as 'Europe/Berlin'.") from exc


def to_naive_utc(moment: datetime, name: str) -> datetime:
    """Return the aware `moment` as a naive UTC datetime; `name` says which argument was wrong."""
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, not {moment!r}.")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment!r}.")
    return moment.astimezone(UTC).replace(tzinfo=None)


def aware(moment: datetime) -> datetime:
    """Return the naive UTC `moment` as an aware UTC datetime."""
    return moment.replace(tzinfo=UTC)


def offset_at(zone: ZoneInfo, moment: datetime) -> timedelta:
    """Return the zone's UTC offset at the naive UTC instant `moment`."""
    offset = moment.replace(tzinfo=UTC).astimezone(zone).utcoffset()
    assert offset is not None  # a ZoneInfo always knows the offset of a UTC instant
    return offset


def first_change(zone: ZoneInfo, lo: datetime, hi: datetime, offset: timedelta) -> datetime:
    """Return the instant in (lo, hi] where the offset stops being `offset` (it is at lo, not at hi)."""
    # Transitions fall on whole seconds, so rounding lo down and hi up keeps their offsets.
    lo = lo.replace(microsecond=0)
    if hi.microsecond:
        hi = hi.replace(microsecond=0) + _SECOND
    seconds = (hi - lo) // _SECOND
    while seconds > 1:
        half = seconds // 2
        middle = lo + half * _SECOND
        if offset_at(zone, middle) == offset:
            lo, seconds = middle, seconds - half
        else:
            hi, seconds = middle, half
    return hi


def constant_offset_pieces(zone: ZoneInfo, lo: datetime, hi: datetime) -> list[tuple[datetime, datetime, timedelta]]:
    """Split [lo, hi) into pieces on which the zone's UTC offset is constant."""
    pieces = []
    piece_start, offset = lo, offset_at(zone, lo)
    probe = lo
    while probe < hi:
        next_probe = min(probe + _PROBE_STEP, hi)
        while offset_at(zone, next_probe) != offset:
            change = first_change(zone, probe, next_probe, offset)
            pieces.append((piece_start, change, offset))
            piece_start = probe = change
            offset = offset_at(zone, change)
        probe = next_probe
    pieces.append((piece_start, hi, offset))
    # A transition exactly at `hi` leaves an empty last piece.
    return [piece for piece in pieces if piece[0] < piece[1]]
