"""ID numbers (GB 11643 check digit via python-stdnum), what follows from them, and how the ledger stores them
(the sealing itself is tested in test_privacy.py)."""

from datetime import date

import pytest
from django.db import connection

from grassroots.ledger.identity import InvalidIdentity, mask_id, parse_id, parse_phone
from grassroots.ledger.models import Person
from grassroots.lib import privacy
from tests.ledger_helpers import ELDER_ID, WIFE_ID, household_in, person


def test_a_valid_number_gives_birth_date_and_sex():
    n = parse_id("11010519491231002X")
    assert n.birth_date == date(1949, 12, 31)
    assert n.sex == "F"  # 17th digit 2 is even
    assert parse_id(ELDER_ID).sex == "M"
    assert parse_id(" 11010519491231002x ").number == "11010519491231002X"  # spaces and lower-case x


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "缺少公民身份号码"),
        ("1101051949123100", "应为 18 位，实际为 16 位"),
        ("11010519491231002Y", "前 17 位应为数字"),
        ("110105194912310021", "校验码不正确"),
        ("110105194902300025", "出生日期“19490230”不是有效日期"),
        ("990105194912310025", "不是有效的行政区划代码"),
    ],
)
def test_a_wrong_number_is_refused_in_chinese(raw, message):
    # The last two: a correct check digit on an impossible date / an unknown county code.
    from stdnum.cn import ric

    if raw.startswith("99") or "0230" in raw:
        raw = raw[:17] + ric.calc_check_digit(raw)
    with pytest.raises(InvalidIdentity) as exc:
        parse_id(raw)
    assert message in str(exc.value)


def test_a_birth_date_in_the_future_is_refused():
    from stdnum.cn import ric

    body = "11010120991231001"
    with pytest.raises(InvalidIdentity, match="晚于今天"):
        parse_id(body + ric.calc_check_digit(body + "0"))


def test_masks_keep_only_the_county_and_the_tail():
    assert mask_id("110105194912310021") == "110105********0021"
    assert parse_phone("138 1234 5678") == "13812345678"
    assert parse_phone("13812345678.0") == "13812345678"  # a numeric Excel cell
    with pytest.raises(InvalidIdentity, match="11 位手机号"):
        parse_phone("12345")


def test_the_database_holds_no_id_number_or_phone_in_clear(tree, users):
    hh = household_in(tree["A1"])
    p = person(users["community_staff"], hh, ELDER_ID, "王大爷", phone="13912345678")
    person(users["community_staff"], hh, WIFE_ID, "李奶奶", relation="spouse")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM ledger_person WHERE id = %s", [p.pk])
        row = " ".join(str(v) for v in cursor.fetchone())
    assert ELDER_ID not in row and "13912345678" not in row
    # The birth date is kept (ages, electorates), so no tail of the number may be: the row holds the
    # county, the birth date and the sex, and 500 orders are left to guess, untestable without the key.
    assert ELDER_ID[-4:] not in row and "5678" not in row
    stored = Person.objects.get(pk=p.pk)
    assert privacy.plain_of(stored.id_number) == ELDER_ID
    assert stored.birth_date == date(1940, 3, 8) and stored.sex == "M"
    assert stored.id_number == ELDER_ID[:6] + "********" + ELDER_ID[-4:]  # read back as its mask
    assert stored.phone == "139****5678"
