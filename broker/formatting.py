"""How dates, money and source names read on pages and in e-mails."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask

LONDON = ZoneInfo("Europe/London")
SOURCE_NAMES = {
    "pcs": "Public Contracts Scotland",
    "sell2wales": "Sell2Wales",
    "contracts_finder": "Contracts Finder",
    "find_a_tender": "Find a Tender",
    "ted": "TED",
    "manual": "Entered by a coordinator",
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


def source_name(source: str) -> str:
    """A publisher's name as people know it."""
    return SOURCE_NAMES.get(source, source)


def init_app(app: Flask) -> None:
    """Register the filters with Jinja."""
    app.add_template_filter(london)
    app.add_template_filter(money)
    app.add_template_filter(source_name)
