"""The public facts the demo city is built from (grassroots/generator/data/*.csv).

Read from the package itself, never from the project's shared spec folder, so an installed
wheel can build a city. `departments()` is the project's default department list
(条线部门, spec/departments.csv) and is meant to be reused by other parts, e.g. the cases
app's catalog loader.
"""

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class DistrictRow:
    code: str
    name: str
    center_lon: float
    center_lat: float


@dataclass(frozen=True)
class StreetRow:
    code: str
    name: str
    district_code: str

    @property
    def is_town(self) -> bool:
        """Towns and townships (镇/乡) are made of villages (村); streets and 地区 of communities."""
        return self.name.endswith(("镇", "乡"))


@dataclass(frozen=True)
class CommunityRow:
    code: str
    name: str
    street_code: str


def read_rows(name: str) -> list[dict[str, str]]:
    """Rows of DATA_DIR/NAME as dicts, whitespace trimmed (UTF-8, BOM tolerated)."""
    with (DATA_DIR / name).open(encoding="utf-8-sig", newline="") as f:
        return [{k.strip(): (v or "").strip() for k, v in row.items()} for row in csv.DictReader(f)]


@cache
def districts() -> tuple[DistrictRow, ...]:
    return tuple(
        DistrictRow(r["code"], r["name"], float(r["center_lon"]), float(r["center_lat"]))
        for r in read_rows("beijing_districts.csv")
    )


@cache
def streets() -> tuple[StreetRow, ...]:
    return tuple(StreetRow(r["code"], r["name"], r["district_code"]) for r in read_rows("beijing_streets.csv"))


@cache
def communities() -> tuple[CommunityRow, ...]:
    return tuple(CommunityRow(r["code"], r["name"], r["street_code"]) for r in read_rows("dongcheng_communities.csv"))


@cache
def _departments() -> tuple[tuple[tuple[str, str], ...], ...]:
    return tuple(tuple(sorted(r.items())) for r in read_rows("departments.csv"))


def departments() -> list[dict[str, str]]:
    """The default departments of every district: dicts with code, name and kind
    (line 职能部门 / utility 公共服务企业 / territorial 属地), as territory.services.ensure_departments takes them."""
    return [dict(items) for items in _departments()]
