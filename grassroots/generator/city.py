"""Build a reproducible synthetic city: territory, departments, staff and the demo logins.

`generate_city(scale, seed, password)` runs the registered steps in order inside one
transaction. Each step is a function taking the CityContext; it writes with bulk_create
(one ORM save per row would take hours at scale L) and leaves what it made on the
context for the steps after it.

Later parts of the platform add their own steps (residents and houses, cases, disputes…)
without touching this file: put a module `city_steps.py` in the app and register there,

    from grassroots.generator.city import city_step

    @city_step(order=500, label="人口与房屋")
    def residents(ctx):
        rng = ctx.rng("ledger")  # a stream of its own: other steps' output does not change
        ...
        ctx.count("房屋", len(houses))

Orders in use: 100 territory, 200 departments, 300 staff, 400 demo logins. Randomness comes
only from ctx.rng(name) (or layout.node_rng), never from the global random module, so the
same seed gives the same city.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.module_loading import autodiscover_modules

from grassroots.accounts.models import User
from grassroots.generator import layout, shapes, sources, staff
from grassroots.lib.snapshot import invalidate_all
from grassroots.territory.levels import DEPTH, LABELS, ORDER, Level, child_code_problem, code_problem
from grassroots.territory.models import Department, Region
from grassroots.territory.services import ensure_departments, geometry_fields, region_path

DEFAULT_PASSWORD = "grassroots2026"
BATCH_SIZE = 2000


class GenerationRefused(Exception):
    """The city cannot be generated here (the message is for the user, in Chinese)."""


@dataclass
class CityContext:
    """What the steps share: the scale and seed, and everything created so far."""

    scale: layout.Scale
    seed: int
    password_hash: str
    say: Callable[[str], None] = print
    regions: dict[str, list[Region]] = field(default_factory=dict)  # by level, codes ascending
    region_by_code: dict[str, Region] = field(default_factory=dict)
    departments: list[Department] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # 中文 label → how many were made
    timings: dict[str, float] = field(default_factory=dict)  # step label → seconds

    def rng(self, name: str) -> random.Random:
        """A random stream of this run reserved for NAME."""
        return random.Random(f"grassroots:{self.seed}:{name}")

    def count(self, label: str, n: int) -> None:
        self.counts[label] = self.counts.get(label, 0) + n


@dataclass(frozen=True)
class Step:
    order: int
    label: str
    func: Callable[[CityContext], None]


_STEPS: dict[str, Step] = {}


def city_step(*, order: int, label: str):
    """Register the decorated function as a generator step (see the module docstring)."""

    def register(func: Callable[[CityContext], None]):
        _STEPS[f"{func.__module__}.{func.__qualname__}"] = Step(order, label, func)
        return func

    return register


def steps() -> list[Step]:
    autodiscover_modules("city_steps")
    return sorted(_STEPS.values(), key=lambda s: (s.order, s.label))


def refusal() -> str | None:
    """Why a city cannot be generated in this database now, or None."""
    n = Region.objects.count()
    if n:
        return (
            f"数据库中已有辖区数据（{n} 个节点）。演示城市只能生成到空数据库中，以免与真实数据混在一起；"
            "如确需重新生成，请先清空数据库（grassroots flush）。"
        )
    taken = sorted(User.objects.filter(username__in=staff.reserved_usernames()).values_list("username", flat=True))
    if taken:
        return f"用户名已被占用：{'、'.join(taken)}。演示城市需要这些用户名，请在空数据库中生成。"
    return None


def check_password(password: str) -> None:
    try:
        validate_password(password)
    except ValidationError as exc:
        raise GenerationRefused("演示密码不符合密码规则：" + "；".join(exc.messages)) from exc


def generate_city(
    scale: str = "S", seed: int = 1, password: str = DEFAULT_PASSWORD, *, say: Callable[[str], None] = print
) -> CityContext:
    """Generate the city of SCALE (S/M/L) from SEED into an empty database; returns the context."""
    if scale not in layout.SCALES:
        raise GenerationRefused(f"未知规模“{scale}”，应为 {'/'.join(layout.SCALES)}")
    check_password(password)
    # One Argon2 hash (~50 ms) shared by every account: hashing per account would take 40 minutes at L.
    ctx = CityContext(layout.SCALES[scale], seed, make_password(password), say)
    started = time.perf_counter()
    with transaction.atomic():
        problem = refusal()
        if problem:
            raise GenerationRefused(problem)
        for step in steps():
            t0 = time.perf_counter()
            step.func(ctx)
            ctx.timings[step.label] = time.perf_counter() - t0
            say(f"  {step.label}：{ctx.timings[step.label]:.1f} 秒")
            invalidate_all()  # bulk writes send no signals: the next step reads fresh
    invalidate_all()  # the grid index, the territory and the catalog
    ctx.timings["合计"] = time.perf_counter() - started
    return ctx


def summary(ctx: CityContext) -> list[str]:
    """Lines describing what was made (for the commands)."""
    lines = [f"规模 {ctx.scale.code}：{ctx.scale.label}；随机种子 {ctx.seed}"]
    lines += [f"  {label}：{n:,}" for label, n in ctx.counts.items()]
    lines.append(f"用时 {ctx.timings.get('合计', 0):.1f} 秒")
    return lines


# --- the steps -----------------------------------------------------------------------


@city_step(order=100, label="辖区与网格")
def territory_step(ctx: CityContext) -> None:
    """Write the planned tree level by level: children need their parents' ids, and
    bulk_create returns ids on SQLite ≥ 3.35 and PostgreSQL."""
    plan = layout.plan_territory(ctx.scale, ctx.seed)
    for level in ORDER:
        rows = [p for p in plan if p.level == level]
        objs = []
        for p in rows:
            parent = ctx.region_by_code.get(p.parent_code) if p.parent_code else None
            _check_code(p, parent)
            objs.append(
                Region(
                    code=p.code,
                    name=p.name,
                    level=level,
                    parent=parent,
                    path=region_path(parent, p.code),
                    depth=DEPTH[level],
                    **geometry_fields(shapes.to_geojson(p.polygon)),
                )
            )
        Region.objects.bulk_create(objs, batch_size=BATCH_SIZE)
        if any(o.pk is None for o in objs):  # a backend that does not return ids
            ids = dict(Region.objects.filter(level=level).values_list("code", "id"))
            for o in objs:
                o.pk = ids[o.code]
        ctx.regions[level] = objs
        ctx.region_by_code.update((o.code, o) for o in objs)
        ctx.count(LABELS[level], len(objs))


def _check_code(p: layout.PlannedRegion, parent: Region | None) -> None:
    """The rules territory.services.create_region enforces, so the generator cannot store what it would refuse."""
    problem = code_problem(p.level, p.code) or (parent and child_code_problem(parent.level, parent.code, p.code))
    if problem:
        raise ValueError(problem)
    if (parent is None) != (p.level == Level.PROVINCE):
        raise ValueError(f"{p.code} 的上级不存在")


@city_step(order=200, label="职能部门")
def departments_step(ctx: CityContext) -> None:
    rows = sources.departments()
    districts = ctx.regions.get(Level.DISTRICT, [])
    for district in districts:
        ensure_departments(district, rows)
    ctx.departments = list(
        Department.objects.filter(district__in=districts).select_related("district").order_by("district__code", "code")
    )
    ctx.count("职能部门", len(ctx.departments))


@city_step(order=300, label="工作人员与居民账户")
def staff_step(ctx: CityContext) -> None:
    users = staff.staff_accounts(ctx.regions, ctx.departments, ctx.password_hash, ctx.rng("staff"))
    User.objects.bulk_create(users, batch_size=BATCH_SIZE)
    ctx.users += users
    ctx.count("账户", len(users))


@city_step(order=400, label="演示登录账户")
def demo_logins_step(ctx: CityContext) -> None:
    users = staff.demo_accounts(ctx.region_by_code, ctx.departments, ctx.password_hash, ctx.rng("demo-logins"))
    User.objects.bulk_create(users)
    ctx.users += users
    ctx.count("演示登录账户", len(users))
