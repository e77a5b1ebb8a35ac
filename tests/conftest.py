"""Shared fixtures: a small real territory tree with grid polygons, and one account per role.

The tree (codes are real 东城区/西城区 codes):

    110000 北京市 → 110100 市辖区 → 110101 东城区 → 110101001000 东华门街道
        → 110101001001 多福巷社区 (A, 0.01° square at 116.40,39.90) → grids A1 (west half), A2 (east half)
        → 110101001002 银闸社区   (B, square east of A)             → grids B1, B2
    110100 → 110102 西城区 → 110102001000 西长安街街道 → 110102001001 (C) → grid C1
"""

import os
import threading
from functools import cache

import pytest
from django.contrib.auth.hashers import make_password
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connection
from django.test.testcases import LiveServerThread

from grassroots.accounts.roles import Role
from grassroots.accounts.services import create_staff as _create_staff
from grassroots.territory.models import Department
from grassroots.territory.services import create_region, ensure_departments

PASSWORD = "Test-pass-2026"


@cache
def password_hash() -> str:
    """Argon2 is slow on purpose; hash the shared test password once per run."""
    return make_password(PASSWORD)


def create_staff(*args, **kwargs):
    return _create_staff(*args, password_hash=password_hash(), **kwargs)


def square(lon: float, lat: float, w: float, h: float | None = None) -> dict:
    h = w if h is None else h
    return {
        "type": "Polygon",
        "coordinates": [[[lon, lat], [lon + w, lat], [lon + w, lat + h], [lon, lat + h], [lon, lat]]],
    }


class _OneRequestAtATime:
    """The live server's WSGI app, run one request at a time.

    On SQLite the test database lives in memory, so Django hands the live server's threads
    the test's own connection. A page that loads several assets at once (Swagger UI does)
    then ran two requests on that one connection, and with SESSION_SAVE_EVERY_REQUEST the
    second session save failed with "cannot start a transaction within a transaction".
    The whole response is read inside the lock, so a streamed export queries under it too.
    """

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            result = self.app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                if hasattr(result, "close"):
                    result.close()


class _LiveServer(ThreadedWSGIServer):
    def set_app(self, application):
        if connection.vendor == "sqlite":
            application = _OneRequestAtATime(application)
        super().set_app(application)


LiveServerThread.server_class = _LiveServer


@pytest.fixture(autouse=True)
def fresh_snapshots():
    """Each test starts from its own database: forget the in-memory catalog and territory
    and grid index (lib.snapshot) another test's rolled-back rows may have filled."""
    from grassroots.lib.snapshot import invalidate_all

    invalidate_all()
    yield


@pytest.fixture
def tree(db):
    r = {}
    r["province"] = create_region("110000", "北京市", "province", None)
    r["city"] = create_region("110100", "市辖区", "city", r["province"])
    r["dongcheng"] = create_region("110101", "东城区", "district", r["city"], square(116.39, 39.89, 0.04))
    r["xicheng"] = create_region("110102", "西城区", "district", r["city"], square(116.30, 39.89, 0.04))
    r["street"] = create_region("110101001000", "东华门街道", "street", r["dongcheng"], square(116.40, 39.90, 0.02, 0.01))
    r["street_x"] = create_region("110102001000", "西长安街街道", "street", r["xicheng"], square(116.31, 39.90, 0.01))
    r["A"] = create_region("110101001001", "多福巷社区", "community", r["street"], square(116.40, 39.90, 0.01))
    r["B"] = create_region("110101001002", "银闸社区", "community", r["street"], square(116.41, 39.90, 0.01))
    r["C"] = create_region("110102001001", "西长安街社区", "community", r["street_x"], square(116.31, 39.90, 0.01))
    r["A1"] = create_region("110101001001001", "多福巷第一网格", "grid", r["A"], square(116.40, 39.90, 0.005, 0.01))
    r["A2"] = create_region("110101001001002", "多福巷第二网格", "grid", r["A"], square(116.405, 39.90, 0.005, 0.01))
    r["B1"] = create_region("110101001002001", "银闸第一网格", "grid", r["B"], square(116.41, 39.90, 0.005, 0.01))
    r["B2"] = create_region("110101001002002", "银闸第二网格", "grid", r["B"], square(116.415, 39.90, 0.005, 0.01))
    r["C1"] = create_region("110102001001001", "西长安街第一网格", "grid", r["C"], square(116.31, 39.90, 0.01))
    departments = [
        {"code": "chengguan", "name": "城市管理综合执法局", "kind": "line"},
        {"code": "zhujian", "name": "住房和城乡建设局", "kind": "line"},
    ]
    ensure_departments(r["dongcheng"], departments)
    ensure_departments(r["xicheng"], departments)
    r["chengguan"] = Department.objects.get(district=r["dongcheng"], code="chengguan")
    r["chengguan_x"] = Department.objects.get(district=r["xicheng"], code="chengguan")
    return r


@pytest.fixture
def users(tree):
    """One account per role, scoped inside 多福巷社区 (A) / 东城区, plus their twins for B and 西城区."""
    t = tree
    u = {}
    u["grid_worker"] = create_staff("gw_a1", PASSWORD, Role.GRID_WORKER, full_name="张网格", region=t["A1"])
    u["community_staff"] = create_staff("cs_a", PASSWORD, Role.COMMUNITY_STAFF, full_name="李社区", region=t["A"])
    u["dispatcher"] = create_staff("dp_street", PASSWORD, Role.DISPATCHER, full_name="王调度", region=t["street"])
    u["handler"] = create_staff("hd_cg", PASSWORD, Role.HANDLER, full_name="赵承办", department=t["chengguan"])
    u["mediator"] = create_staff("md_a", PASSWORD, Role.MEDIATOR, full_name="钱调解", region=t["A"])
    u["leader"] = create_staff("ld_dc", PASSWORD, Role.LEADER, full_name="孙领导", region=t["dongcheng"])
    u["admin"] = create_staff("admin_dc", PASSWORD, Role.ADMIN, full_name="周管理", region=t["dongcheng"])
    u["resident"] = create_staff("res", PASSWORD, Role.RESIDENT, full_name="吴居民")
    # Twins elsewhere, to prove isolation.
    u["grid_worker_b"] = create_staff("gw_b1", PASSWORD, Role.GRID_WORKER, region=t["B1"])
    u["community_staff_b"] = create_staff("cs_b", PASSWORD, Role.COMMUNITY_STAFF, region=t["B"])
    u["leader_x"] = create_staff("ld_xc", PASSWORD, Role.LEADER, region=t["xicheng"])
    u["handler_x"] = create_staff("hd_cg_x", PASSWORD, Role.HANDLER, department=t["chengguan_x"])
    return u


@pytest.fixture
def admins(users, tree):
    """A global administrator, the 东华门街道 administrator and the 西长安街街道 one (besides users["admin"],
    东城区's)."""
    return {
        "all": create_staff("admin_all", PASSWORD, Role.ADMIN, full_name="全局管理员"),
        "street": create_staff("admin_st", PASSWORD, Role.ADMIN, full_name="街道管理员", region=tree["street"]),
        "street_x": create_staff("admin_x", PASSWORD, Role.ADMIN, full_name="西城街道管理员", region=tree["street_x"]),
    }


# --- a real browser --------------------------------------------------------------------

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (no browser download)."""
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by
    # the test itself (fixtures) are still synchronous and safe.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def phone(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    pg = context.new_page()
    yield pg
    context.close()
