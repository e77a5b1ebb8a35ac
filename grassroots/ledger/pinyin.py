"""Pinyin initials of a name for search (张三丰 → zsf), with pypinyin."""

from functools import lru_cache

from pypinyin import Style, lazy_pinyin


@lru_cache(maxsize=20000)
def _char(ch: str) -> str:
    if ch.isascii():
        return ch.lower() if ch.isalnum() else ""
    letters = lazy_pinyin(ch, style=Style.FIRST_LETTER, errors="ignore")
    return letters[0][:1].lower() if letters and letters[0] else ""


def initials(name: str) -> str:
    # Per character, so surnames read with their common reading; heteronyms within names are rare.
    return "".join(_char(ch) for ch in name)[:20]
