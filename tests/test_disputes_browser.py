"""In a real headless Chromium: a grid worker registers a neighbours' water-leak dispute; the
community mediator accepts it, records a mediation session, reaches a written agreement, and
downloads the agreement document, which opens as Word."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from grassroots.disputes.documents import docx_text
from grassroots.disputes.models import Dispute, Stage
from tests.test_browser_map import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_register_mediate_and_download_the_agreement(page, live_server, tree, users):
    sign_in(page, live_server, "gw_a1")
    page.click("nav.nav >> text=矛盾纠纷")
    page.click("#register-dispute")
    page.select_option("select[name=kind]", "neighbour")
    page.select_option("select[name=source]", "grid")
    page.select_option("select[name=region_code]", tree["A1"].code)
    page.fill("input[name=title]", "楼上漏水邻里纠纷")
    page.fill("textarea[name=description]", "楼上卫生间漏水，楼下天花板发霉，双方多次争吵")
    page.fill("input[name=party1_name]", "陈楼上")
    page.fill("input[name=party1_phone]", "13800001111")
    page.fill("input[name=party2_name]", "刘楼下")
    page.click("#dispute-form button[type=submit]")
    page.wait_for_selector("#dispute-stage")
    d = Dispute.objects.get()
    assert page.url == f"{live_server.url}/disputes/{d.number}/"
    assert page.locator("#dispute-stage").inner_text() == "登记"
    assert "138****1111" in page.locator("#parties").inner_text()
    assert "民法典" in page.locator("#law-references").inner_text()

    page.click("form[action='/accounts/logout/'] button")
    sign_in(page, live_server, "md_a")
    page.goto(f"{live_server.url}/disputes/{d.number}/")
    page.click("#act-accept summary")
    page.click("#act-accept button[type=submit]")
    page.wait_for_selector("#act-record_session")
    assert page.locator("#dispute-stage").inner_text() == "已受理"
    page.click("#act-record_session summary")
    form = page.locator("#act-record_session form")
    form.locator("input[name=place]").fill("多福巷社区调解室")
    form.locator("input[name=attendees]").fill("陈楼上、刘楼下")
    form.locator("textarea[name=notes]").fill("双方陈述，经查为楼上防水层老化")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#sessions")
    assert "防水层老化" in page.locator("#sessions").inner_text()
    assert page.locator("#dispute-stage").inner_text() == "调解中"

    page.click("#act-agree summary")
    form = page.locator("#act-agree form")
    form.locator("textarea[name=facts]").fill("502室防水层老化漏水致402室天花板受损")
    form.locator("textarea[name=terms]").fill("陈楼上十日内修复防水并赔偿刘楼下2000元")
    form.locator("input[name=performance]").fill("赔偿款当面交付，社区见证")
    form.locator("input[name=perform_by]").fill((timezone.localdate() + timedelta(days=10)).isoformat())
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#download-agreement")
    with page.expect_download() as info:
        page.click("#download-agreement")
    download = info.value
    assert download.suggested_filename == f"agreement-{d.number}.docx"
    text = docx_text(Path(download.path()).read_bytes())
    assert "人民调解协议书" in text and "赔偿刘楼下2000元" in text and "陈楼上" in text and "刘楼下" in text
    d.refresh_from_db()
    assert d.stage == Stage.AGREED
    timeline = page.locator("#timeline").inner_text()
    assert "登记" in timeline and "记录调解" in timeline and "达成调解协议" in timeline
