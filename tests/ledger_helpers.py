"""Shared helpers of the ledger tests: valid ID numbers, a small household, workbooks in memory."""

import io
from datetime import date

from openpyxl import Workbook, load_workbook

from grassroots.ledger import services
from grassroots.ledger.identity import make_id
from grassroots.ledger.models import Address, Building, House, Household
from grassroots.ledger.workbooks import SHEETS

ELDER_ID = make_id("110101", date(1940, 3, 8), 21)  # male, 86
WIFE_ID = make_id("110101", date(1944, 7, 1), 42)
SON_ID = make_id("110101", date(1970, 1, 15), 13)


def house_in(grid, code="A1-1-101", room="101", estate="金宝花园", building_no="3") -> House:
    building, _ = Building.objects.get_or_create(
        code=f"{grid.code}/{estate}/{building_no}",
        defaults={"name": f"{estate}{building_no}号楼", "estate": estate, "number": building_no, "grid": grid,
                  "region_path": grid.path, "lon": grid.center_lon, "lat": grid.center_lat},
    )
    address = Address.objects.create(code=code, grid=grid, region_path=grid.path, building=building, estate=estate,
                                     building_no=building_no, unit="1", room=room,
                                     text=f"东城区东华门街道{estate}{building_no}号楼1单元{room}室")
    return House.objects.create(address=address, building=building, grid=grid, region_path=grid.path, area_m2="88.50")


def household_in(grid, number="HH-A1-0001", **kw) -> Household:
    house = house_in(grid, code=f"ADDR-{number}", **kw)
    return Household.objects.create(number=number, house=house, grid=grid, region_path=grid.path)


def person(actor, household, id_number, name, relation="head", status="registered", phone=""):
    return services.register_person(
        actor, services.PersonData(id_number=id_number, name=name, status=status, phone=phone, household=household,
                                   relation=relation)
    )


def workbook(sheets: dict[str, list[list]], *, headers: dict[str, list[str]] | None = None) -> bytes:
    """A workbook with the template's headers (or HEADERS) and ROWS per sheet."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        ws.append((headers or {}).get(name) or [h for h, _k, _r in SHEETS[name]])
        for row in rows:
            ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def read_sheets(data: bytes) -> dict[str, list[list]]:
    wb = load_workbook(io.BytesIO(data))
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
