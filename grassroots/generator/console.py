"""Plain-text tables for the terminal (no Django needed, so bench scripts can use it too)."""

import unicodedata


def display_width(text: str) -> int:
    """Columns TEXT takes in a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """Lines of a table whose columns line up in a terminal, Chinese included."""
    widths = [max(display_width(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells) -> str:
        return "  ".join(str(c) + " " * (w - display_width(str(c))) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(headers), "  ".join("-" * w for w in widths), *[line(r) for r in rows]]
