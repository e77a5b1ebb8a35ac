"""The people who work the synthetic city: one account per post, and the demo logins.

Posts, following how a Beijing district is staffed:
  city      dp110100                 市级 12345 派单员
  district  ld<code>, dp<code>       区领导、区综治中心派单员
  street    dp<code>, md<code>       街道派单员、街道人民调解员
  community cs<code>, md<code>       社区工作人员、社区人民调解员
  grid      gw<code>                 网格员 (scoped to the grid)
  department hd<district><dept>      每个区每个职能部门一名承办人 (department scope)
  residents rs0001…                  a handful of 居民 without scope
Usernames derive from codes, so they are the same for every seed. Every account gets the
same password hash (hashed once by the caller).
"""

import random
from dataclasses import dataclass

from django.contrib.auth.hashers import check_password

from grassroots.accounts.models import User
from grassroots.accounts.roles import Role
from grassroots.generator.names import person_name, phone_number
from grassroots.territory.levels import Level
from grassroots.territory.models import Department, Region

RESIDENTS = 10


@dataclass(frozen=True)
class DemoLogin:
    """A well-known login for trying the platform in one role."""

    username: str
    role: str
    region_code: str | None = None
    department: tuple[str, str] | None = None  # (district code, department code)


DEMO_LOGINS = (
    DemoLogin("admin", Role.ADMIN, "110100"),
    DemoLogin("leader", Role.LEADER, "110101"),
    DemoLogin("dispatcher", Role.DISPATCHER, "110101001000"),
    DemoLogin("handler", Role.HANDLER, department=("110101", "chengguan")),
    DemoLogin("mediator", Role.MEDIATOR, "110101001001"),
    DemoLogin("community", Role.COMMUNITY_STAFF, "110101001001"),
    DemoLogin("grid", Role.GRID_WORKER, "110101001001001"),
    DemoLogin("resident", Role.RESIDENT),
)


def reserved_usernames() -> list[str]:
    return [d.username for d in DEMO_LOGINS]


def _account(username: str, role: str, password_hash: str, rng: random.Random, *, region=None, department=None) -> User:
    return User(
        username=username,
        password=password_hash,
        role=role,
        full_name=person_name(rng),
        phone=phone_number(rng),
        region=region,
        department=department,
    )


def staff_accounts(
    regions: dict[str, list[Region]], departments: list[Department], password_hash: str, rng: random.Random
) -> list[User]:
    """Unsaved accounts for every post of the city (see the module docstring), in a fixed order."""
    users = []
    for city in regions.get(Level.CITY, []):
        users.append(_account(f"dp{city.code}", Role.DISPATCHER, password_hash, rng, region=city))
    posts = {
        Level.DISTRICT: (("ld", Role.LEADER), ("dp", Role.DISPATCHER)),
        Level.STREET: (("dp", Role.DISPATCHER), ("md", Role.MEDIATOR)),
        Level.COMMUNITY: (("cs", Role.COMMUNITY_STAFF), ("md", Role.MEDIATOR)),
        Level.GRID: (("gw", Role.GRID_WORKER),),
    }
    for level, roles in posts.items():
        for region in regions.get(level, []):
            for prefix, role in roles:
                users.append(_account(f"{prefix}{region.code}", role, password_hash, rng, region=region))
    for department in departments:
        username = f"hd{department.district.code}{department.code}"
        users.append(_account(username, Role.HANDLER, password_hash, rng, department=department))
    for n in range(1, RESIDENTS + 1):
        users.append(_account(f"rs{n:04d}", Role.RESIDENT, password_hash, rng))
    return users


def demo_accounts(
    region_by_code: dict[str, Region], departments: list[Department], password_hash: str, rng: random.Random
) -> list[User]:
    """Unsaved accounts for DEMO_LOGINS (their scopes exist at every scale)."""
    department_by_key = {(d.district.code, d.code): d for d in departments}
    users = []
    for login in DEMO_LOGINS:
        region = region_by_code[login.region_code] if login.region_code else None
        department = department_by_key[login.department] if login.department else None
        users.append(_account(login.username, login.role, password_hash, rng, region=region, department=department))
    return users


# --- the table the demo command prints ------------------------------------------------


def demo_login_rows(password: str) -> list[tuple[str, str, str, str]]:
    """(角色, 用户名, 密码, 登录后看到) for each demo login that exists.

    PASSWORD is shown only if it is still the accounts' password (they share one hash, so
    one Argon2 check tells); a city generated earlier with another password says so instead.
    """
    from grassroots.front.context import ROLE_HOME_TITLES

    users = {
        u.username: u
        for u in User.objects.filter(username__in=reserved_usernames()).select_related("region", "department__district")
    }
    shown = password
    if users and not check_password(password, next(iter(users.values())).password):
        shown = "（生成时设置的密码）"
    rows = []
    for login in DEMO_LOGINS:
        user = users.get(login.username)
        if user is None:
            continue
        if user.region is not None:
            scope = f"{user.region.name}（{user.region.level_label}）"
        elif user.department is not None:
            scope = f"{user.department.district.name}{user.department.name}"
        else:
            scope = "本人账户"
        rows.append((Role(user.role).label, user.username, shown, f"{ROLE_HOME_TITLES.get(user.role, '首页')}：{scope}"))
    return rows
