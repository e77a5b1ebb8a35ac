"""Rate limits on the public reads: /track/ and the Open311 GETs, per client address, with a
stricter bucket for failed lookups (guessing tracking codes is the threat)."""

import json

import pytest
import xmltodict
from django.conf import settings
from django.core.cache import caches
from django.test import RequestFactory

from grassroots.accounts.services import create_api_token
from grassroots.cases import services
from grassroots.cases.catalog import load_default_catalog
from grassroots.cases.services import Report
from grassroots.lib import ratelimit
from grassroots.lib.ratelimit import Rate
from tests.test_case_pages import stand_in_classify

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    caches[settings.RATE_LIMIT_CACHE].clear()
    monkeypatch.setattr(services, "classify", stand_in_classify)
    monkeypatch.setattr(ratelimit, "_clock", lambda: 1_800_000_010.0)  # 10 s into a minute: no window ends mid-test


@pytest.fixture
def case(tree, users):
    load_default_catalog()
    return services.intake(users["resident"], Report(
        channel="app", description="楼道里堆满杂物", lon=116.402, lat=39.905, matter_code="02.01.02")).case


def track(client, code, ip="10.0.0.1"):
    return client.get("/track/", {"code": code}, REMOTE_ADDR=ip)


# --- the pieces ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("30/m", Rate(30, 60)), ("10/5m", Rate(10, 300)), (" 100 / h ", Rate(100, 3600)), ("2/s", Rate(2, 1)),
    ("1000/d", Rate(1000, 86400)), ("", None), ("0", None), ("off", None), ("0/m", None), (None, None),
])
def test_rates_are_read_from_count_slash_period(text, expected):
    assert Rate.parse(text) == expected


@pytest.mark.parametrize("text", ["30", "30/min", "x/m", "-1/m"])
def test_a_wrong_rate_setting_says_how_to_write_it(text):
    with pytest.raises(ValueError, match="30/m"):
        Rate.parse(text)


def test_windows_count_and_then_start_over():
    limit = Rate(2, 60)
    assert [ratelimit.hit("t", "a", limit, now=120.0).allowed for _ in range(3)] == [True, True, False]
    refused = ratelimit.hit("t", "a", limit, now=150.5)
    assert not refused.allowed and refused.retry_after == 30
    assert ratelimit.hit("t", "b", limit, now=150.5).allowed  # another client
    assert ratelimit.hit("t", "a", limit, now=180.0).allowed  # the next window
    assert ratelimit.peek("t", "a", limit, now=180.0).allowed and ratelimit.hit("t", "a", None).allowed


def request(remote="203.0.113.9", forwarded=None):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    return RequestFactory().get("/track/", REMOTE_ADDR=remote, **extra)


def test_forwarded_for_is_believed_only_behind_configured_proxies(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert ratelimit.client_key(request("10.0.0.5", "1.2.3.4")) == "10.0.0.5"  # a client can write anything there
    settings.TRUSTED_PROXY_COUNT = 1
    assert ratelimit.client_key(request("10.0.0.5", "6.6.6.6, 1.2.3.4")) == "1.2.3.4"  # what our proxy saw
    settings.TRUSTED_PROXY_COUNT = 2
    assert ratelimit.client_key(request("10.0.0.5", "6.6.6.6, 1.2.3.4, 10.0.0.4")) == "1.2.3.4"
    assert ratelimit.client_key(request("10.0.0.5")) == "10.0.0.5"


def test_ipv6_clients_are_counted_per_64_block():
    a = ratelimit.client_key(request("2001:db8:1:2::1"))
    assert a == ratelimit.client_key(request("2001:db8:1:2:ffff::9")) == "2001:db8:1:2::/64"
    assert ratelimit.client_key(request("::ffff:198.51.100.7")) == "198.51.100.7"


# --- /track/ -----------------------------------------------------------------------------------


def test_track_under_the_limit_is_normal_and_over_it_is_429(client, case, settings):
    settings.RATE_LIMIT_TRACK = "3/m"
    for _ in range(3):
        assert track(client, case.tracking_code).status_code == 200
    response = track(client, case.tracking_code)
    page = response.content.decode()
    assert response.status_code == 429 and "查询过于频繁" in page and "秒后再试" in page and case.number not in page
    assert int(response["Retry-After"]) == 50
    assert track(client, case.tracking_code, ip="10.0.0.2").status_code == 200  # another client is not affected
    assert client.get("/track/", REMOTE_ADDR="10.0.0.1").status_code == 200  # the empty form is not a lookup


def test_failed_lookups_have_their_own_stricter_bucket(client, case, settings):
    settings.RATE_LIMIT_TRACK = "100/m"
    settings.RATE_LIMIT_MISS = "2/h"
    assert track(client, "AAAAAAAAAA").status_code == 404
    assert track(client, case.tracking_code).status_code == 200
    assert track(client, "BBBBBBBBBB").status_code == 404
    response = track(client, case.tracking_code)  # a right guess must not shine through once misses are spent
    assert response.status_code == 429 and case.number not in response.content.decode()
    assert int(response["Retry-After"]) > 60
    assert track(client, case.tracking_code, ip="10.0.0.2").status_code == 200


def test_a_limit_can_be_switched_off(client, case, settings):
    settings.RATE_LIMIT_TRACK = ""
    assert all(track(client, case.tracking_code).status_code == 200 for _ in range(40))


def test_default_limits_come_from_settings():
    assert Rate.parse(settings.RATE_LIMIT_TRACK) == Rate(30, 60)
    assert Rate.parse(settings.RATE_LIMIT_OPEN311) == Rate(60, 60)
    assert Rate.parse(settings.RATE_LIMIT_MISS) == Rate(20, 3600)


# --- Open311 -----------------------------------------------------------------------------------


def test_open311_reads_are_limited_with_an_open311_error_and_retry_after(client, case, settings):
    settings.RATE_LIMIT_OPEN311 = "3/m"
    assert client.get("/open311/v2/requests.json", REMOTE_ADDR="10.0.0.1").status_code == 200
    assert client.get(f"/open311/v2/requests/{case.number}.json", REMOTE_ADDR="10.0.0.1").status_code == 200
    assert client.get(f"/open311/v2/tokens/{case.tracking_code}.xml", REMOTE_ADDR="10.0.0.1").status_code == 200
    response = client.get("/open311/v2/requests.json", REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 429 and 1 <= int(response["Retry-After"]) <= 60
    [error] = json.loads(response.content)
    assert error["code"] == 429 and "查询过于频繁" in error["description"]
    xml = client.get(f"/open311/v2/requests/{case.number}.xml", REMOTE_ADDR="10.0.0.1")
    assert xml.status_code == 429 and xml["Retry-After"]
    assert xmltodict.parse(xml.content)["errors"]["error"]["code"] == "429"
    assert client.get("/open311/v2/requests.json", REMOTE_ADDR="10.0.0.2").status_code == 200
    assert client.get("/open311/v2/services.json", REMOTE_ADDR="10.0.0.1").status_code == 200  # the catalog is free


def test_open311_with_an_api_key_is_counted_per_account(client, case, users, settings):
    settings.RATE_LIMIT_OPEN311 = "1/m"
    key = create_api_token(users["dispatcher"], "pytest")[1]
    assert client.get("/open311/v2/requests.json", REMOTE_ADDR="10.0.0.1").status_code == 200
    assert client.get("/open311/v2/requests.json", {"api_key": key}, REMOTE_ADDR="10.0.0.1").status_code == 200
    assert client.get("/open311/v2/requests.json", {"api_key": key}, REMOTE_ADDR="10.0.0.9").status_code == 429


def test_guessed_tokens_on_open311_count_with_the_tracking_page(client, case, settings):
    settings.RATE_LIMIT_MISS = "2/h"
    assert client.get("/open311/v2/tokens/AAAAAAAAAA.json", REMOTE_ADDR="10.0.0.1").status_code == 404
    assert client.get("/open311/v2/requests/SJ000.json", REMOTE_ADDR="10.0.0.1").status_code == 404
    assert client.get(f"/open311/v2/tokens/{case.tracking_code}.json", REMOTE_ADDR="10.0.0.1").status_code == 429
    assert track(client, case.tracking_code).status_code == 429
