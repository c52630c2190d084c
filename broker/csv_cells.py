"""Text in the CSV files people open in a spreadsheet, kept text.

A cell starting with "=", "+", "-" or "@" (or a tab or carriage return before one) is
run as a formula by Excel, LibreOffice and Google Sheets; a member's own description
or a notice's title could then fetch a URL or run a command on a coordinator's
machine. A leading apostrophe makes the spreadsheet show the text as it is.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(text: str) -> str:
    """The text as a cell no spreadsheet runs. Text that already starts with apostrophes
    before a formula gets one more, so that `read_cell` gives back exactly the text."""
    return "'" + text if text.lstrip("'").startswith(FORMULA_STARTS) else text


def read_cell(cell: str) -> str:
    """The text `text_cell` kept (for a file that is read back, such as members' CSV)."""
    risky = cell.startswith("'") and cell.lstrip("'").startswith(FORMULA_STARTS)
    return cell[1:] if risky else cell
