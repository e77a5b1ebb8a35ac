"""Cells that a spreadsheet will not run, in every workbook and CSV the platform writes.

Names, titles and addresses come from residents and from imported files. A text cell that begins
with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some spreadsheets skip before
reading one of those) is a formula to Excel, WPS and LibreOffice: ``=HYPERLINK("http://x","点我")``
as a person's name would be a live link in the exported file, and ``=cmd|…`` worse. Following OWASP
("CSV injection"), such a text gets a leading single quote: the spreadsheet shows it as text.
Numbers, dates and empty cells are left alone, so a negative number stays a number.

Every export uses :func:`cell` (or :func:`row`); an importer that reads our own files back (the
ledger's error workbook, the territory CSV) takes the quote off again with :func:`unquote`.
"""

from __future__ import annotations

from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    """The value as it is safe to write into a spreadsheet cell (xlsx or CSV)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def row(values: Iterable) -> list:
    """Every cell of a row through :func:`cell`."""
    return [cell(v) for v in values]


def unquote(text: str) -> str:
    """A text read back from one of our own exports, without the quote :func:`cell` added."""
    if isinstance(text, str) and text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text
