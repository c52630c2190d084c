"""How dates, money and source names read on pages, in e-mails and on the terminal.

Plain functions (no Flask): the web's Jinja filters are registered by broker.web.filters.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
SOURCE_NAMES = {
    "pcs": "Public Contracts Scotland",
    "sell2wales": "Sell2Wales",
    "contracts_finder": "Contracts Finder",
    "find_a_tender": "Find a Tender",
    "ted": "TED",
    "rss": "RSS or Atom feed",
    "html_listing": "Web page listing",
    "manual": "Entered by a coordinator",
    # A buyer's opportunity from the network's public pages; triage adds the organisation.
    "buyer": "From a buyer",
}
CURRENCY_SIGNS = {"GBP": "£", "EUR": "€", "USD": "$"}


def london(moment: datetime | None, with_time: bool = True) -> str:
    """A UTC moment as UK local time, e.g. "16 Oct 2026, 10:00"."""
    if moment is None:
        return ""
    local = moment.astimezone(LONDON)
    text = f"{local.day} {local:%b %Y}"
    return f"{text}, {local:%H:%M}" if with_time else text


def money(amount: float | None, currency: str | None = "GBP") -> str:
    """An amount as "£265,000", or "Not given" when unknown."""
    if amount is None:
        return "Not given"
    sign = CURRENCY_SIGNS.get(currency or "GBP")
    whole = f"{amount:,.0f}" if amount >= 100 or amount == int(amount) else f"{amount:,.2f}"
    return f"{sign}{whole}" if sign else f"{whole} {currency}"


def pounds(text: str | None) -> float | None:
    """An amount typed in a form, '£25,000' or '25000.50', as a number (None when empty);
    ValueError for anything else."""
    cleaned = re.sub(r"[£,\s]", "", text or "")
    if not cleaned:
        return None
    if not re.fullmatch(r"\d+(\.\d{1,2})?", cleaned):
        raise ValueError(text)
    return float(cleaned)


def source_name(source: str) -> str:
    """A publisher's name as people know it."""
    return SOURCE_NAMES.get(source, source)


def days_left(deadline: datetime | None, now: datetime) -> str:
    """How long is left before a deadline, in words: "3 days left", "closed"."""
    if deadline is None:
        return "no deadline given"
    seconds = (deadline - now).total_seconds()
    if seconds < 0:
        return "closed"
    days = int(seconds // 86400)
    if days == 0:
        hours = max(1, int(seconds // 3600))
        return f"{hours} hour{'s' if hours != 1 else ''} left"
    return f"{days} day{'s' if days != 1 else ''} left"
