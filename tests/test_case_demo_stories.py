"""The issue's "Done when", tried as a new user would in the demo city: three stories through the
real pages in headless Chromium, with the generated S city (东城区) and its demo logins.

  (a) a resident on a phone reports 楼下烧烤店油烟 → suggested as 餐饮油烟 → the street
      dispatcher accepts and dispatches it to 东城区生态环境局 → that department's handler signs
      for it, calls the reporter (revealing the phone, audited), resolves it → the resident rates
      it 已解决/满意 → the timeline tells the whole story;
  (b) a grid worker on a phone reports a cluttered stairwell (楼道堆物, a grid-tier matter) with a
      photo and closes it on the spot (就地处置);
  (c) a hotline call dispatched to 生态环境局 is returned (退单) — it is an open-air barbecue,
      城管's business — and the dispatcher upholds the return and re-routes it to
      城市管理综合执法局, whose handler (the demo login "handler") resolves it.

docs/cases.md ("演示：三个故事") gives the same clicks for a person to repeat by hand.
"""

import os
import re
import struct
import zlib

import pytest
from playwright.sync_api import expect

from grassroots.accounts.models import AuditEvent
from grassroots.generator.city import DEFAULT_PASSWORD, generate_city
from grassroots.territory import geo
from grassroots.territory.models import Department, Region

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("SCREENSHOT_DIR")
GRID = "110101001001001"  # 多福巷社区第1网格: the demo grid worker's grid
OILY_SMOKE = "楼下烧烤店油烟很大，熏得家里没法开窗"
STAIRWELL = "3号楼2单元楼道里堆满纸箱和旧家具，堵住了消防通道"
HOTLINE = "东华门大街一家饭店门口每天晚上烧烤，油烟熏得整条胡同都是味"


@pytest.fixture
def city(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    generate_city("S", 1, DEFAULT_PASSWORD, say=lambda _: None)
    grid = Region.objects.get(code=GRID)
    point = geo.to_geometry(grid.boundary).representative_point()
    return {
        "grid": grid,
        "at": {"longitude": point.x, "latitude": point.y, "accuracy": 15},
        "shengtai": Department.objects.get(district__code="110101", code="shengtai"),
        "chengguan": Department.objects.get(district__code="110101", code="chengguan"),
    }


@pytest.fixture
def people(browser, live_server, city):
    """open(username, phone=False) → a signed-in page in a browser context of its own."""
    contexts = []

    def open_as(username: str, *, phone: bool = False):
        if phone:
            context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True,
                                          has_touch=True, geolocation=city["at"], permissions=["geolocation"])
        else:
            context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", DEFAULT_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/home/")
        return page

    yield open_as
    for context in contexts:
        context.close()


def shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


def menu(page, label):
    """Follow a navigation link, through the menu button on a phone."""
    toggle = page.locator("label.nav-toggle-label")
    if toggle.is_visible():
        toggle.click()
    page.click(f"nav.nav >> text={label}")


def open_case(page, live_server, number, tab="all"):
    """Find the case in one's worklist by its number (the search box) and open it."""
    page.goto(f"{live_server.url}/cases/?tab={tab}&q={number}")
    page.locator(f'tr[data-number="{number}"] a').first.click()
    page.wait_for_url(f"{live_server.url}/cases/{number}/")


def act(page, name, **fields):
    """Open the action NAME on the case page, fill FIELDS (textareas, inputs, selects, radios), submit."""
    box = page.locator(f"#act-{name}")
    box.evaluate("d => d.open = true")
    for field, value in fields.items():
        target = box.locator(f"[name={field}]")
        kind = target.first.evaluate("e => e.tagName + ':' + (e.type || '')")
        if kind.startswith("SELECT"):
            target.select_option(value)
        elif kind.endswith(":radio"):
            box.locator(f"input[name={field}][value={value}]").check()
        else:
            target.fill(value)
    with page.expect_navigation():
        box.locator("button[type=submit]").click()
    assert not page.locator("#action-error").count(), page.locator("#action-error").inner_text()


def state(page) -> str:
    return page.locator("#case-state").inner_text()


def timeline(page) -> list[str]:
    return page.locator("#timeline li").evaluate_all("items => items.map(li => li.dataset.action)")


def png() -> bytes:
    """A real 2×2 PNG (the upload check reads the file's signature, not only its name)."""
    raw = b"".join(b"\x00" + b"\xc8\x50\x30" * 2 for _ in range(2))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# --- (a) 楼下烧烤店油烟: report → 餐饮油烟 → 生态环境局 → handled → evaluated -------------------


def test_a_resident_reports_oily_smoke_and_sees_it_through(people, live_server, city):
    # 1. The resident, on a phone, reports and locates the problem with the phone's position.
    resident = people("resident", phone=True)
    menu(resident, "我要反映")
    resident.wait_for_url(f"{live_server.url}/cases/report/")
    resident.fill("#id_description", OILY_SMOKE)
    resident.wait_for_selector("#pick-map.ready")
    resident.click("#pick-locate")
    expect(resident.locator("#pick-status")).to_have_text(re.compile(r"^\s*已选位置"))
    resident.fill("#id_address", "3号楼")
    shot(resident, "story-a-report.png")
    resident.click("#report-form button[type=submit]")
    resident.wait_for_url("**/submitted/", timeout=60_000)  # the first classification may train the model
    number = resident.locator("#case-number").inner_text()
    suggested = resident.locator("#suggestions li").all_inner_texts()
    assert "餐饮油烟" in suggested[0], suggested
    assert "生态环境局" in resident.locator("#route").inner_text()
    assert "多福巷社区第1网格" in resident.locator("#submitted").inner_text()

    # 2. The street dispatcher accepts it and dispatches it where the catalog says (03.01.01 → shengtai).
    dispatcher = people("dispatcher")
    dispatcher.goto(f"{live_server.url}/cases/")
    row = dispatcher.locator(f'tr[data-number="{number}"]')
    assert "****" in row.inner_text()  # the phone is masked in the worklist, for dispatchers too
    row.locator("a").first.click()
    dispatcher.wait_for_url(f"{live_server.url}/cases/{number}/")
    act(dispatcher, "accept", note="居民反映餐饮油烟，受理")
    assert state(dispatcher) == "已受理"
    assert dispatcher.locator("#act-dispatch select[name=lead]").input_value() == f"d:{city['shengtai'].pk}"
    assert "生态环境局" in dispatcher.locator("#route").inner_text()
    act(dispatcher, "dispatch", note="请核查油烟直排")
    assert state(dispatcher) == "已派遣" and dispatcher.locator("#case-lead").inner_text() == "生态环境局"

    # 3. 东城区生态环境局's handler signs for it, calls the reporter, resolves it.
    handler = people("hd110101shengtai")
    open_case(handler, live_server, number, tab="pending")
    act(handler, "start")
    assert state(handler) == "处置中"
    masked = handler.locator("#reporter-phone").inner_text()
    assert "****" in masked
    handler.click("#reveal-phone summary")
    handler.select_option("#reveal-phone select[name=reason]", "contact")
    handler.click("#reveal-phone button[type=submit]")
    handler.wait_for_selector("#reporter-phone[data-revealed]")
    full = handler.locator("#reporter-phone").inner_text()
    assert "*" not in full and full[-4:] == masked[-4:]
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.PERSONAL_DATA, username="hd110101shengtai",
                                     subject_label__contains=number).exists()
    act(handler, "respond", note="已电话联系反映人，约定明天上门查看")
    act(handler, "resolve", result="已责令烧烤店安装油烟净化设施、停止直排，复查达标")
    assert state(handler) == "已办结"

    # 4. The resident finds it waiting for an evaluation and rates it 解决 / 满意.
    menu(resident, "我反映的问题")
    resident.wait_for_selector(f'tr[data-number="{number}"]')
    resident.locator(f'tr[data-number="{number}"] a').first.click()
    resident.wait_for_url(f"{live_server.url}/cases/{number}/")
    assert "油烟净化设施" in resident.locator("#case-description, .facts").all_inner_texts()[1]
    act(resident, "evaluate", solved="yes", satisfied="yes", comment="油烟没了，谢谢")
    assert state(resident) == "已关闭"
    shot(resident, "story-a-closed-phone.png")

    # 5. The timeline tells the whole story, in order.
    dispatcher.reload()
    assert timeline(dispatcher) == ["report", "accept", "dispatch", "start", "respond", "resolve", "evaluate"]
    text = dispatcher.locator("#timeline").inner_text()
    for words in ("反映问题", "受理", "派遣", "签收", "联系反映人", "办结", "回访评价", "已关闭", "约定明天上门查看"):
        assert words in text, words
    assert "是否解决 是，是否满意 是" in dispatcher.content()
    shot(dispatcher, "story-a-timeline.png")


# --- (b) a grid worker closes a stairwell on the spot -------------------------------------------


def test_b_grid_worker_reports_with_a_photo_and_closes_on_the_spot(people, live_server, city):
    worker = people("grid", phone=True)
    menu(worker, "事件上报")
    worker.wait_for_url(f"{live_server.url}/cases/report/?channel=grid")
    assert worker.locator("h1").inner_text() == "网格上报"
    worker.wait_for_selector("#pick-map.ready")
    worker.click("#pick-locate")
    expect(worker.locator("#pick-status")).to_have_text(re.compile(r"^\s*已选位置"))
    worker.fill("#id_description", STAIRWELL)
    worker.wait_for_selector("#suggest #suggestions")
    assert "楼道堆物" in worker.locator("#suggest #suggestions li").first.inner_text()
    worker.set_input_files("#id_photos", files=[{"name": "楼道.png", "mimeType": "image/png", "buffer": png()}])
    worker.check("input[name=on_spot]")
    worker.fill("#id_on_spot_result", "已联系住户当场清走纸箱和旧家具，消防通道已畅通")
    shot(worker, "story-b-report.png")
    worker.click("#report-form button[type=submit]")
    worker.wait_for_url("**/submitted/")
    assert worker.locator("#submitted h1").inner_text() == "已上报并就地处置"
    assert "楼道堆物" in worker.locator("body").inner_text()
    worker.click("text=查看事件")
    worker.wait_for_url(f"{live_server.url}/cases/*/")
    assert state(worker) == "已办结"
    assert "消防通道已畅通" in worker.locator(".facts").inner_text()
    assert worker.locator(".photos img").count() == 1
    assert timeline(worker) == ["report", "accept", "resolve_on_spot"]  # staff reports are accepted at once
    assert "就地处置" in worker.locator("#timeline").inner_text()
    shot(worker, "story-b-case.png")


# --- (c) a return (退单) with arbitration ----------------------------------------------------------


def test_c_a_wrong_dispatch_is_returned_and_arbitration_re_routes_it(people, live_server, city):
    # 1. A hotline call entered and dispatched at once to the suggested unit, 生态环境局.
    dispatcher = people("dispatcher")
    menu(dispatcher, "来件登记")
    dispatcher.wait_for_url(f"{live_server.url}/cases/new/")
    dispatcher.fill("#id_reporter_name", "刘先生")
    dispatcher.fill("#id_reporter_phone", "13912345678")
    dispatcher.select_option("#id_region_code", GRID)
    dispatcher.fill("#id_description", HOTLINE)
    # A locator wait, not wait_for_function: polling a string predicate is eval, which the CSP refuses.
    expect(dispatcher.locator("#id_lead")).to_have_value(f"d:{city['shengtai'].pk}")
    assert "生态环境局" in dispatcher.locator("#route").inner_text()
    with dispatcher.expect_navigation():
        dispatcher.click("button[name=submit][value=dispatch]")
    number = dispatcher.locator("h1 small").inner_text()
    assert state(dispatcher) == "已派遣" and dispatcher.locator("#case-lead").inner_text() == "生态环境局"

    # 2. 生态环境局 returns it: an open-air barbecue is 城管's to stop.
    handler = people("hd110101shengtai")
    open_case(handler, live_server, number, tab="pending")
    act(handler, "return", reason="现场核实为店外露天烧烤，属城管执法部门查处，不属于本局职责")
    assert state(handler) == "已退单"

    # 3. The dispatcher finds it under 退回给我, upholds the return and re-routes it to 城管.
    dispatcher.goto(f"{live_server.url}/cases/?tab=returned")
    dispatcher.locator(f'tr[data-number="{number}"] a').first.click()
    dispatcher.wait_for_url(f"{live_server.url}/cases/{number}/")
    assert "不属于本局职责" in dispatcher.locator("#timeline").inner_text()
    act(dispatcher, "arbitrate", ruling="uphold", note="退单理由成立，改派城管执法局",
        lead=f"d:{city['chengguan'].pk}")
    assert state(dispatcher) == "已派遣"
    assert dispatcher.locator("#case-lead").inner_text() == "城市管理综合执法局"

    # 4. The demo handler (城管) has it in their pending list, signs for it and resolves it.
    chengguan = people("handler")
    open_case(chengguan, live_server, number, tab="pending")
    act(chengguan, "start")
    act(chengguan, "resolve", result="已取缔门前露天烧烤，责令店家室内经营")
    assert state(chengguan) == "已办结"
    assert chengguan.locator("#case-lead").inner_text() == "城市管理综合执法局"

    # 5. The timeline: entered and dispatched, returned, ruled, re-dispatched, handled.
    dispatcher.reload()
    assert timeline(dispatcher) == ["report", "accept", "dispatch", "return", "arbitrate", "dispatch", "start",
                                    "resolve"]
    text = dispatcher.locator("#timeline").inner_text()
    for words in ("退单", "退单裁定", "退单理由成立", "退单成立，改派", "已取缔门前露天烧烤"):
        assert words in text, words
    shot(dispatcher, "story-c-timeline.png")
    # The former lead no longer sees it as its own work.
    handler.goto(f"{live_server.url}/cases/?tab=pending")
    assert handler.locator(f'tr[data-number="{number}"]').count() == 0
