"""When the annual re-tier falls (the month and day come from the RETIER_DATE setting)."""

import datetime as dt

from django.conf import settings


def annual_retier_date(year: int) -> dt.date:
    """Return the day of `year`'s scheduled re-tier."""
    month, day = settings.RETIER_DATE
    return dt.date(year, month, day)


def next_retier_date(today: dt.date) -> dt.date:
    """Return the next scheduled annual re-tier after `today`."""
    this_year = annual_retier_date(today.year)
    return this_year if this_year > today else annual_retier_date(today.year + 1)
