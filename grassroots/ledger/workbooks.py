"""Excel in and out: the template, the import of addresses, houses, households and persons,
the error workbook, and the export of a filtered person list.

Import, in order:
  1. read every sheet present (地址, 房屋, 户, 人口), check the header, parse and validate
     every row; each problem is a RowError (sheet, row, column, reason in Chinese);
  2. resolve references between sheets and to what the database already holds (an address
     code, a household number, an ID number), within the importer's scope: a row pointing
     at a broken row is itself refused, naming the row it depends on;
  3. unless it is a dry run, or the mode is "all or nothing" and anything is wrong, write
     the valid rows in bulk in one transaction: match by address code, household number
     and ID number (keyed hash), so importing the same file twice updates, never
     duplicates; a person whose household changed gets a "move" in the ledger history.
The writes are bulk on purpose (a street's workbook has 100,000 rows); the same rules as
services.py apply.
"""

import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache

from django.db import transaction
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from python_calamine import CalamineWorkbook

from grassroots.accounts.models import User
from grassroots.accounts.permissions import can, path_in_scope, region_in_scope
from grassroots.accounts.roles import Action
from grassroots.ledger import identity
from grassroots.ledger.db import BULK_CACHE_KIB
from grassroots.ledger.models import (
    Address,
    Building,
    House,
    Household,
    HouseUse,
    LedgerEvent,
    Occupancy,
    Person,
    Relation,
    ResidenceStatus,
)
from grassroots.ledger.pinyin import initials
from grassroots.lib import privacy
from grassroots.lib import sheets as lib_sheets
from grassroots.lib.sqlite import bulk_page_cache
from grassroots.territory.levels import Level
from grassroots.territory.models import Region

BATCH = 2000
MAX_ROWS = 200_000

# sheet → [(header, key, required)]
SHEETS: dict[str, list[tuple[str, str, bool]]] = {
    "地址": [("地址编码", "code", True), ("网格编码", "grid", True), ("小区", "estate", False),
           ("楼栋", "building_no", True), ("单元", "unit", False), ("室", "room", True),
           ("楼栋经度", "lon", False), ("楼栋纬度", "lat", False)],
    "房屋": [("地址编码", "address", True), ("用途", "use", False), ("专有面积（平方米）", "area", False),
           ("产权人身份证号", "owner_id", False), ("产权人姓名", "owner_name", False), ("居住情况", "occupancy", False)],
    "户": [("户号", "number", True), ("地址编码", "address", True), ("户主身份证号", "head_id", False)],
    "人口": [("公民身份号码", "id_number", True), ("姓名", "name", True), ("联系电话", "phone", False),
           ("民族", "ethnicity", False), ("居住类型", "status", True), ("户号", "household", False),
           ("与户主关系", "relation", False), ("迁入日期", "moved_in", False), ("网格编码", "grid", False)],
}
ERROR_SHEET = "错误清单"
ERROR_COLUMN = "错误原因"


def _choices(choices) -> dict[str, str]:
    """Accept the Chinese label or the code."""
    out = {label: code for code, label in choices}
    out.update({code: code for code, _ in choices})
    return out


USES, OCCUPANCIES = _choices(HouseUse.choices), _choices(Occupancy.choices)
STATUSES, RELATIONS = _choices(ResidenceStatus.choices), _choices(Relation.choices)
RELATIONS.update({"本人": Relation.HEAD, "妻": Relation.SPOUSE, "夫": Relation.SPOUSE, "子": Relation.CHILD,
                  "女": Relation.CHILD, "父亲": Relation.PARENT, "母亲": Relation.PARENT})


class ImportRefused(Exception):
    """The file as a whole cannot be read (the message is for the user)."""


@dataclass
class RowError:
    sheet: str
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"“{self.sheet}”第 {self.row} 行{('“' + self.column + '”列') if self.column else ''}：{self.reason}"


@dataclass
class SheetCount:
    rows: int = 0
    valid: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportResult:
    mode: str
    dry_run: bool
    counts: dict[str, SheetCount] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    written: bool = False
    rejected_rows: dict[str, list[tuple[int, list, str]]] = field(default_factory=dict)
    headers: dict[str, list[str]] = field(default_factory=dict)

    @property
    def error_rows(self) -> int:
        return sum(len(v) for v in self.rejected_rows.values())

    @property
    def total_rows(self) -> int:
        return sum(c.rows for c in self.counts.values())

    def error_workbook(self) -> bytes:
        return error_workbook(self)


ALL_OR_NOTHING = "all"
VALID_ROWS = "valid"


# --- reading --------------------------------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    # The error workbook quotes a text a spreadsheet would run (lib.sheets): reading it back takes it off.
    return lib_sheets.unquote(str(value).strip())


@dataclass
class Row:
    sheet: str
    number: int
    values: dict[str, str]
    raw: list
    errors: list[RowError] = field(default_factory=list)

    def fail(self, column_key: str, reason: str) -> None:
        header = next((h for h, k, _ in SHEETS[self.sheet] if k == column_key), column_key)
        self.errors.append(RowError(self.sheet, self.number, header, reason))

    @property
    def ok(self) -> bool:
        return not self.errors


def _read(data: bytes, result: ImportResult) -> dict[str, list[Row]]:
    """Every row of the known sheets (read with python-calamine, several times faster than
    openpyxl for a 100,000-row workbook; openpyxl writes the template and the error workbook)."""
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own errors for a file that is not a workbook
        raise ImportRefused("文件不是有效的 Excel 工作簿（.xlsx），请用模板填写后上传") from exc
    sheets: dict[str, list[Row]] = {}
    total = 0
    known = [name for name in SHEETS if name in wb.sheet_names]
    if not known:
        raise ImportRefused("工作簿中没有可导入的工作表，应至少包含“地址”“房屋”“户”“人口”之一")
    for name in known:
        try:
            rows_iter = iter(wb.get_sheet_by_name(name).to_python(skip_empty_area=False))
        except Exception as exc:
            raise ImportRefused(f"工作表“{name}”无法读取，请另存为 .xlsx 后重试") from exc
        header = [_cell(v).rstrip("*＊").strip() for v in next(rows_iter, ())]
        result.headers[name] = header
        index = {h: i for i, h in enumerate(header) if h}
        missing = [h for h, _k, required in SHEETS[name] if required and h not in index]
        columns = [(key, index.get(h)) for h, key, _ in SHEETS[name]]
        id_at = index.get("公民身份号码") if name == "人口" else None
        rows = []
        for n, values in enumerate(rows_iter, start=2):
            if all(v is None or v == "" for v in values):
                continue
            total += 1
            if total > MAX_ROWS:
                raise ImportRefused(f"一次最多导入 {MAX_ROWS:,} 行，请分批导入")
            width = len(values)
            got = {key: _cell(values[i]) if i is not None and i < width else "" for key, i in columns}
            row = Row(name, n, got, list(values))
            if id_at is not None and id_at < width and isinstance(values[id_at], (int, float)):
                row.fail("id_number", "公民身份号码须以文本格式填写（数字格式会丢失末位），请将该列设为文本后重新填写")
            for h in missing:
                row.errors.append(RowError(name, n, h, f"缺少必填列“{h}”"))
            rows.append(row)
        if missing and not rows:
            result.errors += [RowError(name, 1, h, f"缺少必填列“{h}”") for h in missing]
        sheets[name] = rows
        result.counts[name] = SheetCount(rows=len(rows))
    return sheets


# --- validating -----------------------------------------------------------------------------


def _required(row: Row, *keys: str) -> None:
    for key in keys:
        if not row.values[key]:
            header = next(h for h, k, _ in SHEETS[row.sheet] if k == key)
            if not any(e.column == header for e in row.errors):  # one message per cell
                row.fail(key, f"“{header}”不能为空")


def _length(row: Row, key: str, limit: int) -> None:
    if len(row.values[key]) > limit:
        row.fail(key, f"不能超过 {limit} 个字符")


def _float(row: Row, key: str, lo: float, hi: float) -> float | None:
    text = row.values[key]
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        row.fail(key, f"应为数字，实际为“{text}”")
        return None
    if not lo <= value <= hi:
        row.fail(key, f"应在 {lo:g} 到 {hi:g} 之间，实际为 {value:g}")
        return None
    return value


def _date(row: Row, key: str) -> date | None:
    text = row.values[key]
    if not text:
        return None
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d"):
        try:
            value = datetime.strptime(text[:10], fmt).date()
        except ValueError:
            continue
        if value > timezone.localdate():
            row.fail(key, f"日期“{text}”晚于今天")
            return None
        return value
    row.fail(key, f"日期格式应为 2024-05-01，实际为“{text}”")
    return None


def _choice(row: Row, key: str, table: dict[str, str], labels, default: str = "") -> str:
    text = row.values[key]
    if not text:
        return default
    if text not in table:
        row.fail(key, f"应为以下之一：{'、'.join(label for _c, label in labels)}，实际为“{text}”")
        return default
    return table[text]


def _id(row: Row, key: str) -> identity.IdNumber | None:
    if not row.values[key]:
        return None
    try:
        return identity.parse_id(row.values[key])
    except identity.InvalidIdentity as exc:
        if not any(e.column == "公民身份号码" and "文本格式" in e.reason for e in row.errors):
            row.fail(key, str(exc))
        return None


def _suffix(value: str, word: str) -> str:
    return value + word if value and value.isdigit() else value


class _Importer:
    def __init__(self, actor: User, sheets: dict[str, list[Row]], result: ImportResult):
        self.actor, self.sheets, self.result = actor, sheets, result
        self.grids: dict[str, Region | None] = {}
        self.names: dict[str, str] = {}
        self.addresses: dict[str, dict] = {}  # code → planned address (valid file rows)
        self.bad_addresses: dict[str, int] = {}  # code → row number of a broken row
        self.db_addresses: dict[str, Address] = {}
        self.houses: dict[str, dict] = {}  # address code → planned house
        self.households: dict[str, dict] = {}
        self.bad_households: dict[str, int] = {}
        self.db_households: dict[str, Household] = {}
        self.persons: dict[str, dict] = {}  # id hash → planned person
        self.bad_persons: dict[str, int] = {}

    # 1. grids and what the database holds for the codes the file mentions
    def load(self) -> None:
        codes = {r.values["grid"] for rows in self.sheets.values() for r in rows if r.values.get("grid")}
        found = {g.code: g for g in Region.objects.filter(code__in=codes, level=Level.GRID)}
        for code in codes:
            self.grids[code] = found.get(code)
        ancestor_codes = {c for g in found.values() for c in g.ancestor_codes()}
        self.names = dict(Region.objects.filter(code__in=ancestor_codes).values_list("code", "name"))
        address_codes = {r.values.get("code") or r.values.get("address") or "" for rows in self.sheets.values()
                         for r in rows if r.sheet in ("地址", "房屋", "户")}
        address_codes.discard("")
        for chunk in _chunks(sorted(address_codes)):
            for a in Address.objects.filter(code__in=chunk).select_related("grid", "building"):
                self.db_addresses[a.code] = a
        numbers = {r.values.get("household") or r.values.get("number") or "" for name in ("户", "人口")
                   for r in self.sheets.get(name, [])}
        numbers.discard("")
        for chunk in _chunks(sorted(numbers)):
            for h in Household.objects.filter(number__in=chunk).select_related("house__grid", "grid"):
                self.db_households[h.number] = h

    def _grid(self, row: Row, key: str = "grid") -> Region | None:
        code = row.values[key]
        if not code:
            return None
        grid = self.grids.get(code)
        if grid is None:
            row.fail(key, f"网格编码“{code}”不存在")
            return None
        if not region_in_scope(self.actor, grid):
            row.fail(key, f"网格“{code}”不在您的辖区内")
            return None
        return grid

    # 2. each sheet, in dependency order
    def addresses_sheet(self) -> None:
        seen: dict[str, int] = {}
        for row in self.sheets.get("地址", []):
            v = row.values
            _required(row, "code", "grid", "building_no", "room")
            for key, limit in (("code", 40), ("estate", 60), ("building_no", 20), ("unit", 20), ("room", 20)):
                _length(row, key, limit)
            grid = self._grid(row)
            lon, lat = _float(row, "lon", 70, 140), _float(row, "lat", 0, 60)
            if (lon is None) != (lat is None) and row.ok:
                row.fail("lon" if lon is None else "lat", "楼栋经度和纬度需同时填写")
            code = v["code"]
            if code in seen:
                row.fail("code", f"地址编码与第 {seen[code]} 行重复")
            elif code:
                seen[code] = row.number
            existing = self.db_addresses.get(code)
            if existing is not None and not path_in_scope(self.actor, existing.region_path):
                row.fail("code", "该地址编码已被其他辖区使用")
            if not row.ok or grid is None:
                if code and code not in self.addresses:
                    self.bad_addresses[code] = row.number
                continue
            parts = [self.names.get(c, "") for c in grid.ancestor_codes()[2:]]  # district, street, community
            text = "".join(parts + [v["estate"], _suffix(v["building_no"], "号楼"), _suffix(v["unit"], "单元"),
                                    _suffix(v["room"], "室")])
            self.addresses[code] = {"row": row, "grid": grid, "text": text[:255], "lon": lon, "lat": lat}

    def _address(self, row: Row, key: str = "address") -> tuple[Region, str] | None:
        """(grid, region_path) of an address the row refers to: in this file or already stored."""
        code = row.values[key]
        if not code:
            return None
        if code in self.addresses:
            g = self.addresses[code]["grid"]
            return g, g.path
        if code in self.bad_addresses:
            row.fail(key, f"地址编码“{code}”所在的“地址”第 {self.bad_addresses[code]} 行有错误，本行未导入")
            return None
        existing = self.db_addresses.get(code)
        if existing is None:
            row.fail(key, f"地址编码“{code}”不存在，请先在“地址”表中填写")
            return None
        if not path_in_scope(self.actor, existing.region_path):
            row.fail(key, f"地址编码“{code}”不在您的辖区内")
            return None
        return existing.grid, existing.region_path

    def houses_sheet(self) -> None:
        seen: dict[str, int] = {}
        for row in self.sheets.get("房屋", []):
            v = row.values
            _required(row, "address")
            place = self._address(row)
            use = _choice(row, "use", USES, HouseUse.choices, HouseUse.RESIDENTIAL)
            occupancy = _choice(row, "occupancy", OCCUPANCIES, Occupancy.choices, Occupancy.OWNER)
            area = None
            if v["area"]:
                try:
                    area = Decimal(v["area"]).quantize(Decimal("0.01"))
                except InvalidOperation:
                    row.fail("area", f"应为数字（平方米），实际为“{v['area']}”")
                else:
                    if not Decimal("0") < area < Decimal("100000"):
                        row.fail("area", f"专有面积应大于 0 且小于 100000 平方米，实际为 {area}")
                        area = None
            owner = _id(row, "owner_id")
            _length(row, "owner_name", 50)
            code = v["address"]
            if code in seen:
                row.fail("address", f"该地址的房屋与第 {seen[code]} 行重复")
            elif code:
                seen[code] = row.number
            if row.ok and place is not None:
                self.houses[code] = {"row": row, "grid": place[0], "path": place[1], "use": use,
                                     "occupancy": occupancy, "area": area, "owner": owner}

    def households_sheet(self) -> None:
        seen: dict[str, int] = {}
        for row in self.sheets.get("户", []):
            v = row.values
            _required(row, "number", "address")
            _length(row, "number", 40)
            place = self._address(row)
            head = _id(row, "head_id")
            number = v["number"]
            if number in seen:
                row.fail("number", f"户号与第 {seen[number]} 行重复")
            elif number:
                seen[number] = row.number
            existing = self.db_households.get(number)
            if existing is not None and not path_in_scope(self.actor, existing.region_path):
                row.fail("number", "该户号已在其他辖区登记")
            if row.ok and place is not None:
                self.households[number] = {"row": row, "grid": place[0], "path": place[1], "address": v["address"],
                                           "head": head}
            elif number and number not in self.households:
                self.bad_households[number] = row.number

    def persons_sheet(self) -> None:
        rows = self.sheets.get("人口", [])
        parsed = []
        for row in rows:
            v = row.values
            _required(row, "id_number", "name", "status")
            number = _id(row, "id_number")
            _length(row, "name", 50)
            _length(row, "ethnicity", 20)
            try:
                phone = identity.parse_phone(v["phone"])
            except identity.InvalidIdentity as exc:
                row.fail("phone", str(exc))
                phone = ""
            status = _choice(row, "status", STATUSES, ResidenceStatus.choices)
            relation = _choice(row, "relation", RELATIONS, Relation.choices)
            moved_in = _date(row, "moved_in")
            parsed.append((row, number, phone, status, relation, moved_in))
        aliases = privacy.digest_aliases("id", [n.number for _r, n, *_ in parsed if n is not None])
        existing: dict[str, tuple[int, str]] = {}
        for chunk in _chunks(aliases):
            existing.update((aliases[h], (pk, path)) for h, pk, path in
                            Person.objects.filter(id_hash__in=chunk).values_list("id_hash", "id", "region_path"))
        self.db_persons = existing
        seen: dict[str, int] = {}
        for row, number, phone, status, relation, moved_in in parsed:
            v = row.values
            h = privacy.digest("id", number.number) if number else ""
            if h and h in seen:
                row.fail("id_number", f"公民身份号码与第 {seen[h]} 行重复")
            elif h:
                seen[h] = row.number
            if h in existing and not path_in_scope(self.actor, existing[h][1]):
                row.fail("id_number", "此人已在其他辖区登记，请联系其所在社区办理迁入迁出")
            grid = path = house_code = None
            number_ = v["household"]
            if number_:
                if number_ in self.households:
                    plan = self.households[number_]
                    grid, path, house_code = plan["grid"], plan["path"], plan["address"]
                elif number_ in self.bad_households:
                    row.fail("household", f"户号“{number_}”所在的“户”第 {self.bad_households[number_]} 行有错误，本行未导入")
                elif number_ in self.db_households:
                    hh = self.db_households[number_]
                    if path_in_scope(self.actor, hh.region_path):
                        grid, path = hh.grid, hh.region_path
                    else:
                        row.fail("household", f"户号“{number_}”不在您的辖区内")
                else:
                    row.fail("household", f"户号“{number_}”不存在，请先在“户”表中填写")
            elif v["grid"]:
                grid = self._grid(row)
                path = grid.path if grid else None
            else:
                row.fail("household", "请填写户号（或不在户中时填写网格编码）")
            if row.ok:
                self.persons[h] = {"row": row, "id": number, "phone": phone, "status": status, "relation": relation,
                                   "moved_in": moved_in, "grid": grid, "path": path, "household": number_,
                                   "house_code": house_code}
            elif h and h not in self.persons:
                self.bad_persons[h] = row.number

    def collect(self) -> None:
        for name, rows in self.sheets.items():
            good = [r for r in rows if r.ok]
            self.result.counts[name].valid = len(good)
            bad = [r for r in rows if not r.ok]
            for r in bad:
                self.result.errors += r.errors
            self.result.rejected_rows[name] = [(r.number, r.raw, "；".join(e.reason for e in r.errors)) for r in bad]

    # 3. writes
    def write(self) -> None:
        now = timezone.now()
        events: list[LedgerEvent] = []
        actor_name = self.actor.display_name
        counts = self.result.counts

        # buildings, then addresses
        building_plans: dict[str, dict] = {}
        for a in self.addresses.values():
            v = a["row"].values
            bcode = f"{a['grid'].code}/{v['estate']}/{v['building_no']}"[:120]
            plan = building_plans.setdefault(bcode, {"grid": a["grid"], "estate": v["estate"],
                                                     "number": v["building_no"], "lon": None, "lat": None})
            if a["lon"] is not None:
                plan["lon"], plan["lat"] = a["lon"], a["lat"]
            a["building_code"] = bcode
        buildings = _existing(Building, "code", building_plans)
        new_buildings, changed_buildings = [], []
        for bcode, p in building_plans.items():
            b = buildings.get(bcode)
            name = f"{p['estate']}{_suffix(p['number'], '号楼')}"[:100]
            if b is None:
                b = Building(code=bcode, name=name, estate=p["estate"], number=p["number"], grid=p["grid"],
                             region_path=p["grid"].path, lon=p["lon"], lat=p["lat"])
                new_buildings.append(b)
                buildings[bcode] = b
            elif p["lon"] is not None and (b.lon, b.lat) != (p["lon"], p["lat"]):
                b.lon, b.lat = p["lon"], p["lat"]
                changed_buildings.append(b)
        _bulk_create(Building, new_buildings, "code", buildings)
        Building.objects.bulk_update(changed_buildings, ["lon", "lat"], batch_size=BATCH)

        new_addresses, changed_addresses = [], []
        fields = ["grid", "region_path", "building", "estate", "building_no", "unit", "room", "text"]
        for code, a in self.addresses.items():
            v = a["row"].values
            values = {"grid": a["grid"], "region_path": a["grid"].path, "building": buildings[a["building_code"]],
                      "estate": v["estate"], "building_no": v["building_no"], "unit": v["unit"], "room": v["room"],
                      "text": a["text"]}
            existing = self.db_addresses.get(code)
            if existing is None:
                obj = Address(code=code, **values)
                new_addresses.append(obj)
                self.db_addresses[code] = obj
            elif _differs(existing, values):
                _assign(existing, values)
                changed_addresses.append(existing)
                counts["地址"].updated += 1
            else:
                counts["地址"].unchanged += 1
        _bulk_create(Address, new_addresses, "code", self.db_addresses)
        Address.objects.bulk_update(changed_addresses, fields, batch_size=BATCH)
        if "地址" in counts:
            counts["地址"].created = len(new_addresses)

        # houses: one per address; households may name an address without a house row
        address_ids = {code: a.pk for code, a in self.db_addresses.items()}
        needed = set(self.houses) | {h["address"] for h in self.households.values()}
        houses_by_address: dict[int, House] = {}
        for chunk in _chunks(sorted(address_ids[c] for c in needed)):
            for h in House.objects.filter(address_id__in=chunk).select_related("grid"):
                houses_by_address[h.address_id] = h
        new_houses, changed_houses = [], []
        house_fields = ["grid", "region_path", "building", "use", "area_m2", "occupancy", "owner_name"]
        for code in needed:
            address = self.db_addresses[code]
            plan = self.houses.get(code)
            values = {"grid": address.grid, "region_path": address.region_path, "building": address.building}
            if plan is not None:
                values.update(use=plan["use"], occupancy=plan["occupancy"], area_m2=plan["area"],
                              owner_name=plan["row"].values["owner_name"][:50])
            house = houses_by_address.get(address.pk)
            if house is None:
                house = House(address=address, **values)
                new_houses.append(house)
                houses_by_address[address.pk] = house
                if plan is not None:
                    counts["房屋"].created += 1
            elif _differs(house, values):
                if plan is not None and house.owner_name != values["owner_name"] and house.owner_name:
                    events.append(LedgerEvent(subject="house", subject_id=house.pk, at=now, actor=self.actor,
                                              actor_name=actor_name, action="owner", note="导入：产权变更",
                                              data={"before": {"owner": house.owner_name},
                                                    "after": {"owner": values["owner_name"]}}))
                _assign(house, values)
                changed_houses.append(house)
                if plan is not None:
                    counts["房屋"].updated += 1
            elif plan is not None:
                counts["房屋"].unchanged += 1
        House.objects.bulk_create(new_houses, batch_size=BATCH)
        _ensure_ids(House, new_houses, "address_id")
        House.objects.bulk_update(changed_houses, house_fields, batch_size=BATCH)

        # households
        new_households, changed_households = [], []
        for number, p in self.households.items():
            house = houses_by_address[address_ids[p["address"]]]
            values = {"house": house, "grid": house.grid, "region_path": house.region_path}
            existing = self.db_households.get(number)
            if existing is None:
                obj = Household(number=number, **values)
                new_households.append(obj)
                self.db_households[number] = obj
            elif existing.house_id != house.pk or existing.region_path != house.region_path:
                events.append(LedgerEvent(subject="household", subject_id=existing.pk, at=now, actor=self.actor,
                                          actor_name=actor_name, action="move", note="导入：住址变更",
                                          data={"before": {"house": existing.house_id}, "after": {"house": house.pk}}))
                _assign(existing, values)
                changed_households.append(existing)
                counts["户"].updated += 1
            else:
                counts["户"].unchanged += 1
        _bulk_create(Household, new_households, "number", self.db_households)
        Household.objects.bulk_update(changed_households, ["house", "grid", "region_path"], batch_size=BATCH)
        if "户" in counts:
            counts["户"].created = len(new_households)

        # persons
        existing_persons: dict[str, Person] = {}
        aliases = privacy.digest_aliases("id", [p["id"].number for p in self.persons.values()])
        for chunk in _chunks(aliases):
            for p in Person.objects.filter(id_hash__in=chunk):
                existing_persons[aliases[p.id_hash]] = p
        new_persons, changed_persons = [], []
        person_fields = ["name", "initials", "status", "ethnicity", "household", "relation", "house", "grid",
                         "region_path", "moved_in_at", "moved_out_at", "phone", "phone_hash", "phone_tail4"]
        for h, p in self.persons.items():
            v = p["row"].values
            household = self.db_households.get(p["household"]) if p["household"] else None
            house = household.house if household is not None else None
            grid = p["grid"] if household is None else (house.grid if house is not None else household.grid)
            values = {"name": v["name"], "initials": initials(v["name"]), "status": p["status"],
                      "ethnicity": v["ethnicity"], "household": household,
                      "relation": p["relation"] if household else "", "house": house, "grid": grid,
                      "region_path": grid.path if grid is not None else p["path"], "moved_out_at": None}
            person = existing_persons.get(h)
            if person is None:
                person = Person(moved_in_at=p["moved_in"] or timezone.localdate(), **values,
                                id_number=p["id"].number, birth_date=p["id"].birth_date, sex=p["id"].sex,
                                phone=p["phone"])
                new_persons.append(person)
                existing_persons[h] = person
                continue
            if p["moved_in"]:
                values["moved_in_at"] = p["moved_in"]
            phone_changed = not person.phone.matches(p["phone"]) if p["phone"] else bool(person.phone)
            if not phone_changed and not _differs(person, values):
                counts["人口"].unchanged += 1
                continue
            if person.household_id != (household.pk if household else None):
                events.append(LedgerEvent(subject="person", subject_id=person.pk, at=now, actor=self.actor,
                                          actor_name=actor_name, action="move", note="导入：迁移",
                                          data={"before": {"household": _number_of(person), "house": person.house_id},
                                                "after": {"household": p["household"],
                                                          "house": house.pk if house else None}}))
            _assign(person, values)
            if phone_changed:
                privacy.assign(person, "phone", p["phone"])
            changed_persons.append(person)
            counts["人口"].updated += 1
        Person.objects.bulk_create(new_persons, batch_size=BATCH)
        _ensure_ids(Person, new_persons, "id_hash")
        Person.objects.bulk_update(changed_persons, person_fields, batch_size=BATCH)
        if "人口" in counts:
            counts["人口"].created = len(new_persons)
        events += [LedgerEvent(subject="person", subject_id=p.pk, at=now, actor=self.actor, actor_name=actor_name,
                               action="register", note="导入登记") for p in new_persons]

        # heads of households and owners of houses (may be persons of this very file)
        heads, plain = {}, {}  # plain: digest → ID number, for persons not in this file
        for number, p in self.households.items():
            if p["head"] is not None:
                heads[number] = h = privacy.digest("id", p["head"].number)
                plain[h] = p["head"].number
        for h, p in self.persons.items():
            if p["relation"] == Relation.HEAD and p["household"]:
                heads.setdefault(p["household"], h)
        head_ids = _person_ids(set(heads.values()), existing_persons, plain)
        changed = []
        for number, h in heads.items():
            hh = self.db_households[number]
            pk = head_ids.get(h)
            if pk and hh.head_id != pk:
                hh.head_id = pk
                changed.append(hh)
        Household.objects.bulk_update(changed, ["head"], batch_size=BATCH)
        owners = {}
        for code, p in self.houses.items():
            if p["owner"]:
                owners[code] = h = privacy.digest("id", p["owner"].number)
                plain[h] = p["owner"].number
        owner_ids = _person_ids(set(owners.values()), existing_persons, plain)
        changed = []
        for code, h in owners.items():
            house = houses_by_address[address_ids[code]]
            pk = owner_ids.get(h)
            if pk and house.owner_id != pk:
                house.owner_id = pk
                changed.append(house)
        House.objects.bulk_update(changed, ["owner"], batch_size=BATCH)
        LedgerEvent.objects.bulk_create(events, batch_size=BATCH)


def _number_of(person: Person) -> str:
    return person.household.number if person.household_id else ""


def _chunks(items: list, size: int = 900):
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _existing(model, key: str, wanted) -> dict:
    out = {}
    for chunk in _chunks(sorted(wanted)):
        out.update((getattr(o, key), o) for o in model.objects.filter(**{f"{key}__in": chunk}))
    return out


def _bulk_create(model, objs: list, key: str, into: dict) -> None:
    model.objects.bulk_create(objs, batch_size=BATCH)
    _ensure_ids(model, objs, key)
    for o in objs:
        into[getattr(o, key)] = o


def _ensure_ids(model, objs: list, key: str) -> None:
    """bulk_create sets ids on SQLite ≥ 3.35 and PostgreSQL; otherwise read them back."""
    missing = [o for o in objs if o.pk is None]
    if not missing:
        return
    ids = {}
    for chunk in _chunks([getattr(o, key) for o in missing]):
        ids.update(model.objects.filter(**{f"{key}__in": chunk}).values_list(key, "id"))
    for o in missing:
        o.pk = ids[getattr(o, key)]


def _person_ids(hashes: set[str], known: dict[str, Person], plain: dict[str, str]) -> dict[str, int]:
    """Person ids by current digest: from this import's persons, else looked up under every live key."""
    out = {h: known[h].pk for h in hashes if h in known}
    aliases = privacy.digest_aliases("id", [plain[h] for h in hashes if h not in out and h in plain])
    for chunk in _chunks(aliases):
        out.update((aliases[h], pk) for h, pk in Person.objects.filter(id_hash__in=chunk).values_list("id_hash", "id"))
    return out


def _value(obj, name: str):
    f = obj._meta.get_field(name)
    return getattr(obj, f.attname) if f.is_relation else getattr(obj, name)


def _differs(obj, values: dict) -> bool:
    for name, value in values.items():
        current = _value(obj, name)
        new = value.pk if hasattr(value, "_meta") else value
        if isinstance(current, Decimal) or isinstance(new, Decimal):
            current = None if current is None else Decimal(current)
            new = None if new is None else Decimal(new)
        if current != new:
            return True
    return False


def _assign(obj, values: dict) -> None:
    for name, value in values.items():
        setattr(obj, name, value)


# --- entry point -------------------------------------------------------------------------------


def import_workbook(actor: User, data: bytes, *, mode: str = ALL_OR_NOTHING, dry_run: bool = False) -> ImportResult:
    """Validate and (unless DRY_RUN) import the workbook DATA for ACTOR; see the module docstring."""
    from grassroots.ledger.services import NotAllowed

    if not can(actor, Action.IMPORT_LEDGER):
        raise NotAllowed("您的角色无权导入台账")
    if mode not in (ALL_OR_NOTHING, VALID_ROWS):
        raise ImportRefused("导入方式应为“全部成功才导入”或“只导入正确的行”")
    result = ImportResult(mode=mode, dry_run=dry_run)
    sheets = _read(data, result)
    importer = _Importer(actor, sheets, result)
    importer.load()
    importer.addresses_sheet()
    importer.houses_sheet()
    importer.households_sheet()
    importer.persons_sheet()
    importer.collect()
    if dry_run or (mode == ALL_OR_NOTHING and result.errors):
        return result
    with bulk_page_cache(BULK_CACHE_KIB), transaction.atomic():
        importer.write()
    result.written = True
    return result


# --- workbooks out -------------------------------------------------------------------------------

HEADER_FONT = Font(bold=True)
REQUIRED_FILL = PatternFill("solid", fgColor="FFF2CC")
TEXT_KEYS = {"id_number", "owner_id", "head_id", "phone", "code", "address", "number", "household", "grid"}


@cache
def template_workbook() -> bytes:
    wb = Workbook()
    guide = wb.active
    guide.title = "填写说明"
    lines = [
        "一标三实台账导入模板：按“地址 → 房屋 → 户 → 人口”填写，可只填其中几张表。",
        "带 * 的列必填。身份证号、电话、编码列已设为文本格式，请勿改为数字格式。",
        "再次导入同一文件会更新已有记录而不会重复：地址按地址编码、户按户号、人员按公民身份号码匹配。",
        "居住类型：户籍、常住、流动、人户分离；与户主关系：户主、配偶、子女、父母、孙子女、兄弟姐妹、租户、其他。",
        "房屋用途：住宅、商业、办公、其他；居住情况：自住、出租、空置、群租。",
        "导入出错时可下载“错误工作簿”：改正其中的行后直接重新导入该工作簿即可。",
    ]
    for line in lines:
        guide.append([line])
    for name, columns in SHEETS.items():
        ws = wb.create_sheet(name)
        ws.append([h + ("*" if required else "") for h, _k, required in columns])
        for i, (_h, key, required) in enumerate(columns, start=1):
            cell = ws.cell(row=1, column=i)
            cell.font = HEADER_FONT
            if required:
                cell.fill = REQUIRED_FILL
            letter = cell.column_letter
            ws.column_dimensions[letter].width = 20
            if key in TEXT_KEYS:
                for r in range(2, 2002):
                    ws.cell(row=r, column=i).number_format = "@"
    return _save(wb)


def error_workbook(result: ImportResult) -> bytes:
    """The rejected rows of each sheet as they were, with the reason in a last column, and a
    list of every error (sheet, row, column, reason). Fix the rows and import this file again."""
    wb = Workbook()
    wb.remove(wb.active)
    for name in SHEETS:
        if name not in result.rejected_rows or not result.rejected_rows[name]:
            continue
        ws = wb.create_sheet(name)
        header = list(result.headers.get(name, []))
        ws.append(lib_sheets.row(header + [ERROR_COLUMN]))
        for i in range(1, len(header) + 2):
            ws.cell(row=1, column=i).font = HEADER_FONT
        for _n, raw, reason in result.rejected_rows[name]:
            values = list(raw) + [None] * (len(header) - len(raw))
            ws.append(lib_sheets.row([_cell(v) for v in values[:len(header)]] + [reason]))
        for i in range(1, len(header) + 1):
            for row in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                row[0].number_format = "@"
    ws = wb.create_sheet(ERROR_SHEET)
    ws.append(["工作表", "行号", "列", "错误原因"])
    for e in result.errors:
        ws.append(lib_sheets.row([e.sheet, e.row, e.column, e.reason]))
    return _save(wb)


def _save(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


EXPORT_COLUMNS = ["姓名", "性别", "年龄", "公民身份号码", "联系电话", "民族", "居住类型", "户号", "与户主关系",
                  "地址", "网格", "关爱/重点人群"]


FULL_EXPORT_COLUMNS = ["姓名", "性别", "出生日期", "公民身份号码", "联系电话", "民族", "居住类型", "户号", "与户主关系",
                       "地址", "网格", "关爱/重点人群"]


class ExportRefused(ValueError):
    """The message is for the user, in Chinese."""


def export_persons_full(user: User, qs, reason: str, *, request=None) -> bytes:
    """The filtered persons (already scoped) with their whole ID numbers, birth dates and phones, for
    a role that may read them (community staff: a list for the civil-affairs office, say) and a stated
    reason. Every person's read is audited before the file is made (lib.privacy.reveal_many), and a
    file holds at most LEDGER_FULL_EXPORT_MAX persons: a whole district in clear is a leak waiting."""
    from django.conf import settings

    from grassroots.accounts.permissions import can
    from grassroots.accounts.roles import Action

    if not can(user, Action.VIEW_FULL_PERSON):
        raise ExportRefused("您的角色无权导出完整个人信息")
    cap = settings.LEDGER_FULL_EXPORT_MAX
    persons = list(qs.select_related("household", "house__address", "grid").prefetch_related("care_tags")[:cap + 1])
    if len(persons) > cap:
        raise ExportRefused(f"含完整信息的导出每次最多 {cap} 人，请按网格、类别或姓名缩小范围")
    try:
        full = privacy.reveal_many(user, persons, ["id_number", "phone"], reason=reason, request=request,
                                   label=lambda p: p.name, minimum=4)
    except privacy.RevealRefused as exc:
        raise ExportRefused(exc.message) from exc
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("人口")
    ws.append(FULL_EXPORT_COLUMNS)
    for p, values in zip(persons, full, strict=True):
        ws.append(lib_sheets.row([p.name, p.get_sex_display(), p.birth_date, values["id_number"], values["phone"],
                              *_person_tail(p)]))
    return _save(wb)


def _person_tail(p) -> list:
    tags = "、".join(sorted({t.get_type_display() for t in p.care_tags.all() if t.next_visit_due is not None}))
    return [p.ethnicity, p.get_status_display(), p.household.number if p.household_id else "",
            p.get_relation_display() if p.relation else "", p.house.address.text if p.house_id else "", p.grid.name, tags]


def export_persons(user: User, qs) -> bytes:
    """The filtered persons (already scoped) as .xlsx, masked as every role sees them on the pages
    (ID number and phone masked, the age beside them, never the birth date)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("人口")
    ws.append(EXPORT_COLUMNS)
    qs = qs.select_related("household", "house__address", "grid").prefetch_related("care_tags")
    for p in qs.iterator(chunk_size=2000):
        ws.append(lib_sheets.row([p.name, p.get_sex_display(), p.age, str(p.id_number), str(p.phone), *_person_tail(p)]))
    return _save(wb)


