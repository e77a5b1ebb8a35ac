"""Bounded request parameters, shared by every endpoint of the API.

A number or a date a client sends ends up in a SQL query. Python's integers and dates are
wider than the database's: 9223372036854775808 does not fit SQLite's or PostgreSQL's
bigint (OverflowError / DataError), 9999-12-31 plus one day does not fit a `date`, and a
time in year 1 moved to UTC falls before year 1. Each would be a 500. So every integer,
date and time the API accepts is bounded here, once, and a value outside the bounds is a
422 with a Chinese message naming the parameter (errors.py), before any query runs.

  PageIn      limit 1–MAX_LIMIT, offset 0–MAX_OFFSET: every list endpoint pages with it
  RecordId    a primary key (BigAutoField): 1 to 2**63 - 1
  Count       a count people type (涉及人数, days…): 0 to 2**31 - 1, PostgreSQL's integer
  Moment      a date and time between 1900 and 2100
  Day         a date between 1900 and 2100
"""

from datetime import date, datetime
from typing import Annotated, Any

from ninja import Field, Path, Schema
from ninja.pagination import LimitOffsetPagination
from pydantic import AfterValidator

MAX_LIMIT = 1000
# Deep offsets are slow on every database and nobody pages a million rows by hand: narrow
# the list with its filters instead. Far below any integer overflow.
MAX_OFFSET = 1_000_000
MAX_ID = 2**63 - 1  # BigAutoField
MAX_INT = 2**31 - 1  # PostgreSQL integer (IntegerField, PositiveIntegerField)
FIRST_YEAR, LAST_YEAR = 1900, 2100


def _moment_in_range(value: datetime) -> datetime:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"时间应在 {FIRST_YEAR} 年至 {LAST_YEAR} 年之间")
    return value


def _day_in_range(value: date) -> date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"日期应在 {FIRST_YEAR} 年至 {LAST_YEAR} 年之间")
    return value


RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]
Count = Annotated[int, Field(ge=0, le=MAX_INT)]
Moment = Annotated[datetime, AfterValidator(_moment_in_range)]
Day = Annotated[date, AfterValidator(_day_in_range)]


def id_path(description: str) -> Any:
    """A path parameter that is a record's id: `pk: int = id_path("人员编号")`."""
    return Path(..., ge=1, le=MAX_ID, description=description)


class PageIn(Schema):
    limit: int = Field(100, ge=1, le=MAX_LIMIT, description=f"每页条数，1–{MAX_LIMIT}，默认 100")
    offset: int = Field(
        0, ge=0, le=MAX_OFFSET, description=f"从第几条开始（跳过的条数），0–{MAX_OFFSET}，默认 0；更深处请用筛选条件缩小范围"
    )


def page_of(items, page: PageIn):
    """The slice of ITEMS (a queryset or a list) that PAGE asks for."""
    return items[page.offset : page.offset + page.limit]


class Pagination(LimitOffsetPagination):
    """ninja's @paginate with our bounded PageIn, so no single call can pull a whole province."""

    Input = PageIn

    class Output(Schema):
        items: list[Any] = Field(description="本页记录")
        count: int = Field(description="符合条件的记录总数（仅限调用者辖区范围内）")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_limit=MAX_LIMIT, **kwargs)
