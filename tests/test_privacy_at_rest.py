"""No ID number or phone in clear anywhere at rest (个人信息保护法), tried as an attacker holding the
database file would: every column of every table (sessions decoded) is scanned for every clear value
the platform holds — after the demo city is generated, and after each kind of record is created
through the pages and the API as its users would — and so is every log line written meanwhile.
Nor can a masked ID number be turned back into the number from anything stored beside it."""

import io
import json
import logging
import re
from datetime import date

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from stdnum.cn import ric

from grassroots.accounts.models import User
from grassroots.accounts.roles import Role
from grassroots.accounts.services import create_staff
from grassroots.ledger.identity import make_id
from grassroots.ledger.models import Household, Person
from grassroots.lib import privacy
from grassroots.territory.models import Region
from tests.ledger_helpers import workbook

PASSWORD = "Demo-city-2026"
ID_WINDOW = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dX](?![0-9A-Za-z])")


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        call_command("generate", "--scale", "S", "--seed", "5", "--password", PASSWORD, stdout=io.StringIO())
        yield
        from tests.test_generator import delete_city

        delete_city()


pytestmark = pytest.mark.django_db


def held_in_clear() -> set[str]:
    """Every clear value the platform holds: each sealed column of each model, decrypted (and a
    landline's digits without its dash)."""
    values = set()
    for model in privacy.personal_models():
        for field in privacy.sealed_fields(model):
            for value in model._base_manager.exclude(**{field.attname: ""}).values_list(field.attname, flat=True):
                plain = privacy.plain_of(value)
                values.add(plain)
                values.add(plain.replace("-", ""))
    return {v for v in values if len(v) >= 7}


def _text(value) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).decode("utf-8", "ignore")
    return None


RUN = re.compile(r"[0-9X-]{7,}")


def _hits(text: str, clear: set[str], lengths: set[int]) -> list[str]:
    """The clear values inside TEXT: every window of a known length in each run of digits, X and dashes."""
    out = []
    for run in RUN.findall(text):
        for n in lengths:
            out += [run[i:i + n] for i in range(len(run) - n + 1) if run[i:i + n] in clear]
    return out


def scan(extra: set[str] = frozenset()) -> list[str]:
    """Where a clear value (or anything shaped as a valid ID number) sits in the database."""
    clear = held_in_clear() | set(extra)
    assert clear, "nothing to look for"
    lengths = {len(v) for v in clear}
    digest_columns = {(m._meta.db_table, f.column) for m in privacy.personal_models() for f in privacy.digest_fields(m)}
    found = []
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {q(table)}")
            columns = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    text = _text(value)
                    if not text:
                        continue
                    found += [f"{table}.{column}: {hit}" for hit in _hits(text, clear, lengths)]
                    if (table, column) not in digest_columns:
                        found += [f"{table}.{column}: ID {m}" for m in ID_WINDOW.findall(text) if ric.is_valid(m)]
    for s in Session.objects.all():  # signed, base64: read as the server would
        text = json.dumps(SessionStore().decode(s.session_data), ensure_ascii=False, default=str)
        found += [f"django_session: {hit}" for hit in _hits(text, clear, lengths)]
    return found


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_nothing_in_clear(logs, typed: set[str]):
    assert scan(typed) == []
    clear = held_in_clear() | typed
    lengths = {len(v) for v in clear}
    leaked = [r.getMessage() for r in logs.records if _hits(r.getMessage(), clear, lengths)]
    assert leaked == []


def test_the_generated_city_holds_no_id_number_or_phone_in_clear(city):
    assert Person.objects.count() > 2_000 and User.objects.exclude(phone="").count() > 100
    assert scan() == []


def test_a_masked_id_number_cannot_be_rebuilt_from_what_is_stored_beside_it(city):
    """The row keeps the birth date (ages, electorates) and the county, so it must keep no part of the
    tail in clear — no masked copy (110101********1234), no last four or six — leaving an order number
    and a check digit to guess, and with no key no guess can be tested against the digests."""
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {q('ledger_person')}")
        columns = [c[0] for c in cursor.description]
        rows = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
    by_pk = {p.pk: privacy.plain_of(p.id_number) for p in Person.objects.all()}
    for row in rows:
        number = by_pk[row["id"]]
        # Keys are row numbers: person 9506 or its household 9506 is no copy of a tail "9506".
        values = {str(v) for k, v in row.items() if k != "id" and not k.endswith("_id")}
        assert not values & {number, number[-4:], number[-6:], privacy.mask_id(number)}
        assert not any(privacy.mask_id(number) in v or number in v for v in values)


def test_no_answer_of_the_api_gives_a_masked_id_number_back(client, city):
    """The attack that rebuilt 223 of 223: the mask's county and tail, with the birth date beside it.
    Now the age stands there: every birth date of that age is a candidate, and many pass the check digit."""
    client.force_login(User.objects.get(username="community"))
    answer = client.get("/api/ledger/persons", {"limit": 100}).json()
    items = answer["items"] if isinstance(answer, dict) else answer
    assert items
    today = date.today()
    for item in items:
        detail = client.get(f"/api/ledger/persons/{item['id']}").json()
        assert "birth_date" not in detail
        masked, age = detail["id_number"], detail["age"]
        head, tail = masked[:6], masked[-4:]
        candidates = []
        for year in (today.year - age - 1, today.year - age):
            for ordinal in range(date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal() + 1):
                day = date.fromordinal(ordinal)
                number = f"{head}{day:%Y%m%d}{tail}"
                if ric.is_valid(number) and (today.year - day.year - ((today.month, today.day) < (day.month, day.day))
                                             == age):
                    candidates.append(number)
        assert len(candidates) >= 10, (masked, age, candidates)


def test_a_person_added_on_the_api_and_by_import(client, city, logs):
    cs = User.objects.get(username="community")
    household = Household.objects.filter(region_path__startswith=cs.region.path).first()
    typed_id, typed_phone = make_id("110101", date(1988, 4, 2), 731), "13987650001"
    client.force_login(cs)
    created = client.post("/api/ledger/persons", {"id_number": typed_id, "name": "测试甲", "status": "resident",
                                                  "phone": typed_phone, "household": household.number,
                                                  "relation": "other"}, content_type="application/json")
    assert created.status_code == 201, created.content
    imported_id, imported_phone = make_id("110105", date(1979, 9, 9), 132), "13987650002"
    grid = Region.objects.filter(level="grid", path__startswith=cs.region.path).order_by("code").first()
    book = workbook({"人口": [[imported_id, "测试乙", imported_phone, "汉", "常住", "", "", "", grid.code]]})
    response = client.post("/ledger/import/", {"file": SimpleUploadedFile("people.xlsx", book), "mode": "all"})
    assert response.status_code == 200 and Person.objects.filter(name="测试乙").exists(), response.content.decode()[:500]
    from grassroots.ledger import services

    services.update_contact(cs, Person.objects.get(pk=created.json()["id"]), phone="010-65123456")
    client.post(f"/ledger/person/{created.json()['id']}/full/", {"reason": "核对身份信息"})
    assert_nothing_in_clear(logs, {typed_id, typed_phone, imported_id, imported_phone, "010-65123456", "01065123456"})


def test_cases_reported_on_a_phone_entered_from_a_call_and_over_the_api_and_open311(client, city, logs):
    resident, dispatcher = User.objects.get(username="resident"), User.objects.get(username="dispatcher")
    grid = Region.objects.filter(level="grid", path__startswith=dispatcher.region.path).exclude(center_lon=None).first()
    community = grid.parent
    client.force_login(resident)
    r = client.post("/cases/report/", {"channel": "app", "description": "楼道灯坏了一个月", "lon": grid.center_lon,
                                       "lat": grid.center_lat, "reporter_phone": "13987650003"})
    assert r.status_code == 302, r.content.decode()[:300]
    client.force_login(dispatcher)
    r = client.post("/cases/new/", {"channel": "hotline", "description": "来电反映小区垃圾无人清运",
                                    "region_code": community.code, "reporter_name": "张先生",
                                    "reporter_phone": "010-65120004", "submit": "register"})
    assert r.status_code == 302, r.content.decode()[:300]
    api = client.post("/api/cases", {"description": "接口登记：井盖缺失", "channel": "hotline",
                                     "region_code": community.code, "reporter_phone": "13987650005"},
                      content_type="application/json")
    assert api.status_code == 201, api.content
    assert client.post(f"/cases/{api.json()['case']['number']}/phone/", {"reason": "contact"}).status_code == 200
    client.logout()
    open311 = client.post("/open311/v2/requests.json", {"service_code": "03.01.01", "lat": grid.center_lat,
                                                        "long": grid.center_lon, "description": "路灯不亮",
                                                        "phone": "13987650006"})
    assert open311.status_code in (200, 201, 400, 403), open311.content  # anonymous Open311 may need a key
    assert_nothing_in_clear(logs, {"13987650003", "010-65120004", "01065120004", "13987650005", "13987650006"})


def test_disputes_petitions_and_accounts(client, city, logs):
    gw, office = User.objects.get(username="grid"), User.objects.get(username="dispatcher")
    party_id = make_id("110101", date(1975, 1, 20), 555)
    petitioner_id = make_id("110102", date(1960, 6, 6), 444)
    client.force_login(gw)
    r = client.post("/disputes/new/", {
        "kind": "neighbour", "source": "grid", "region_code": gw.region.code, "title": "漏水纠纷",
        "description": "楼上漏水", "party1_name": "甲", "party1_kind": "person", "party1_id": party_id,
        "party1_phone": "13987650007", "party2_name": "乙", "party2_kind": "person", "party2_phone": "13987650008",
        "people_involved": "2", "risk": "normal"})
    assert r.status_code == 302, r.content.decode()[:500]
    client.force_login(office)
    community = Region.objects.filter(level="community", path__startswith=office.region.path).first()
    r = client.post("/disputes/petitions/new/", {"form": "visit", "petitioner_name": "老李",
                                                 "petitioner_id_number": petitioner_id,
                                                 "petitioner_phone": "13987650009", "title": "拆迁补偿",
                                                 "content": "补偿款未到位", "region_code": community.code})
    assert r.status_code == 302, r.content.decode()[:500]
    create_staff("new_gw", "Grid-worker-2026", Role.GRID_WORKER, region=gw.region, phone="13987650010")
    assert_nothing_in_clear(logs, {party_id, petitioner_id, "13987650007", "13987650008", "13987650009",
                                   "13987650010"})
