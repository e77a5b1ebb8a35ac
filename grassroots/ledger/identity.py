"""Identity numbers (公民身份号码, GB 11643-1999) and phones: validation and what follows from them.

The ID number is checked with python-stdnum (`stdnum.cn.ric`: length, digits, the ISO 7064
MOD 11-2 check digit, a real birth date and a known birth-place code); sex and birth date
are read from it (17th digit odd = male), never typed separately.
"""

import re
from dataclasses import dataclass
from datetime import date

from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric

from grassroots.ledger.models import Sex
from grassroots.lib.privacy import mask_id

MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


class InvalidIdentity(ValueError):
    """The message is for the user, in Chinese."""


@dataclass(frozen=True)
class IdNumber:
    number: str
    birth_date: date
    sex: str

    @property
    def masked(self) -> str:
        return mask_id(self.number)


def parse_id(raw: str, *, today: date | None = None) -> IdNumber:
    """Validate RAW as an 18-digit ID number and derive birth date and sex, or raise InvalidIdentity."""
    value = "".join(str(raw or "").split()).upper()
    if not value:
        raise InvalidIdentity("缺少公民身份号码")
    if len(value) != 18:
        raise InvalidIdentity(f"公民身份号码应为 18 位，实际为 {len(value)} 位")
    if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise InvalidIdentity("公民身份号码前 17 位应为数字，最后一位为数字或 X")
    try:
        ric.validate(value)
    except stdnum_errors.InvalidChecksum as exc:
        raise InvalidIdentity("公民身份号码校验码不正确（最后一位与前 17 位不符），请核对") from exc
    except stdnum_errors.InvalidComponent as exc:
        try:
            ric.get_birth_date(value)
        except stdnum_errors.InvalidComponent:
            raise InvalidIdentity(f"公民身份号码中的出生日期“{value[6:14]}”不是有效日期") from exc
        raise InvalidIdentity(f"公民身份号码的前 6 位“{value[:6]}”不是有效的行政区划代码") from exc
    except stdnum_errors.ValidationError as exc:
        raise InvalidIdentity("公民身份号码格式不正确") from exc
    birth = ric.get_birth_date(value)
    if birth > (today or date.today()):
        raise InvalidIdentity(f"公民身份号码中的出生日期“{value[6:14]}”晚于今天")
    sex = Sex.MALE if int(value[16]) % 2 else Sex.FEMALE
    return IdNumber(value, birth, sex)


def parse_phone(raw: str) -> str:
    value = "".join(str(raw or "").split())
    if value.endswith(".0"):  # a number typed into a numeric Excel cell
        value = value[:-2]
    if value and not (MOBILE.match(value) or LANDLINE.match(value)):
        raise InvalidIdentity("联系电话应为 11 位手机号或区号-座机号")
    return value


def make_id(region6: str, birth: date, order: int) -> str:
    """A valid ID number for REGION6, BIRTH and ORDER (3 digits; odd = male). For the generator and tests."""
    body = f"{region6}{birth:%Y%m%d}{order % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")
