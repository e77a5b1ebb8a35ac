"""The levels of the territory tree and the shape of their codes.

County and above use GB/T 2260 six-digit codes (110000, 110100, 110101); streets and
communities use the 12-digit statistical division codes (110101001000, 110101001001);
grids are numbered below their community (community code + 3 digits by default).
"""

import re

from django.db import models


class Level(models.TextChoices):
    PROVINCE = "province", "省"
    CITY = "city", "市"
    DISTRICT = "district", "区/县"
    STREET = "street", "街道/乡镇"
    COMMUNITY = "community", "社区/村"
    GRID = "grid", "网格"


ORDER = [Level.PROVINCE, Level.CITY, Level.DISTRICT, Level.STREET, Level.COMMUNITY, Level.GRID]
DEPTH = {level: i for i, level in enumerate(ORDER)}
LABELS = dict(Level.choices)

_CODE_PATTERNS = {
    Level.PROVINCE: re.compile(r"^\d{2}0000$"),
    Level.CITY: re.compile(r"^\d{4}00$"),
    Level.DISTRICT: re.compile(r"^\d{6}$"),
    Level.STREET: re.compile(r"^\d{9}000$"),
    Level.COMMUNITY: re.compile(r"^\d{12}$"),
    Level.GRID: re.compile(r"^[0-9A-Za-z]{13,20}$"),
}
_CODE_RULES = {
    Level.PROVINCE: "6 位 GB/T 2260 代码，后四位为 0（如 110000）",
    Level.CITY: "6 位 GB/T 2260 代码，后两位为 0（如 110100）",
    Level.DISTRICT: "6 位 GB/T 2260 代码（如 110101）",
    Level.STREET: "12 位统计用区划代码，后三位为 0（如 110101001000）",
    Level.COMMUNITY: "12 位统计用区划代码（如 110101001001）",
    Level.GRID: "13–20 位字母或数字，以所属社区代码开头（如 110101001001001）",
}

# How many leading characters of a code are significant at each level: a child's code
# must start with its parent's significant prefix.
_SIGNIFICANT = {
    Level.PROVINCE: 2,
    Level.CITY: 4,
    Level.DISTRICT: 6,
    Level.STREET: 9,
    Level.COMMUNITY: 12,
    Level.GRID: None,
}


def parent_level(level: str) -> str | None:
    depth = DEPTH[level]
    return ORDER[depth - 1] if depth > 0 else None


def code_problem(level: str, code: str) -> str | None:
    """Why CODE cannot be a code at LEVEL, in Chinese; None when it can."""
    if not _CODE_PATTERNS[level].match(code):
        return f"{LABELS[level]}代码应为{_CODE_RULES[level]}，实际为“{code}”"
    if level == Level.DISTRICT and code.endswith("00"):
        return f"区/县代码的后两位不能为 00，实际为“{code}”"
    if level == Level.STREET and code[6:9] == "000":
        return f"街道/乡镇代码第 7–9 位不能为 000，实际为“{code}”"
    if level == Level.COMMUNITY and (code[9:] == "000" or code[6:9] == "000"):
        return f"社区/村代码的第 7–9 位和第 10–12 位都不能为 000，实际为“{code}”"
    return None


def child_code_problem(parent_level_: str, parent_code: str, code: str) -> str | None:
    """Why CODE cannot belong under PARENT_CODE (code prefix rule), or None."""
    n = _SIGNIFICANT[parent_level_]
    prefix = parent_code[:n] if n else parent_code
    if not code.startswith(prefix):
        return f"代码“{code}”应以上级“{parent_code}”的前 {len(prefix)} 位“{prefix}”开头"
    return None
