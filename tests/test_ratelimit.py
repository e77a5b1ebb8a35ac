"""Rate limits (lib/ratelimit.py) on /track/, Open311 and bad API tokens, counted per caller in a
shared store (the database, or Redis), with the client address from lib/net.py. Across real
gunicorn processes: tests/test_limits_deployed.py."""

import json
import os

import pytest
import xmltodict
from django.test import Client, RequestFactory

from grassroots.accounts.models import AuditEvent
from grassroots.accounts.services import create_api_token, revoke_api_token
from grassroots.cases import services
from grassroots.cases.catalog import load_default_catalog
from grassroots.cases.services import Report
from grassroots.lib import ratelimit
from grassroots.lib.models import RateCounter
from grassroots.lib.net import client_ip
from grassroots.lib.ratelimit import Rate
from grassroots.lib.worker import registered_jobs
from tests.conftest import PASSWORD
from tests.test_case_pages import stand_in_classify

pytestmark = pytest.mark.django_db

REDIS_URL = os.environ.get("RATE_LIMIT_TEST_REDIS", "redis://127.0.0.1:6379/7")
NOW = 1_800_000_010.0  # 10 s into a minute (and into ten minutes): no window ends mid-test


def redis_reachable() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception:
        return False
    return True


def clear_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter("grassroots:rl:*"):
        client.delete(key)


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(services, "classify", stand_in_classify)
    monkeypatch.setattr(ratelimit, "_clock", lambda: NOW)


@pytest.fixture(params=["database", "redis"])
def store(request, settings):
    """Each test using this runs once per store."""
    if request.param == "redis":
        if not redis_reachable():
            pytest.skip(f"Redis is not reachable at {REDIS_URL} (.ci/run starts it)")
        clear_redis()
        settings.RATE_LIMIT_REDIS_URL = REDIS_URL
    else:
        settings.RATE_LIMIT_REDIS_URL = ""
    return request.param


@pytest.fixture
def case(tree, users):
    load_default_catalog()
    return services.intake(users["resident"], Report(
        channel="app", description="楼道里堆满杂物", lon=116.402, lat=39.905, matter_code="02.01.02")).case


def track(client, code, ip="10.0.0.1", **extra):
    return client.get("/track/", {"code": code}, REMOTE_ADDR=ip, **extra)


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


def test_windows_count_and_then_start_over(store):
    limit = Rate(2, 60)
    assert [ratelimit.hit("t", "a", limit, now=120.0).allowed for _ in range(3)] == [True, True, False]
    refused = ratelimit.hit("t", "a", limit, now=150.5)
    assert not refused.allowed and refused.retry_after == 30 and refused.count == 4
    assert ratelimit.hit("t", "b", limit, now=150.5).allowed  # another caller
    assert ratelimit.hit("t2", "a", limit, now=150.5).allowed  # another bucket
    assert ratelimit.hit("t", "a", limit, now=180.0).allowed  # the next window
    assert ratelimit.peek("t", "a", limit, now=180.0).allowed and ratelimit.hit("t", "a", None).allowed


def test_the_database_store_keeps_no_address_in_clear_and_the_worker_purges_ended_windows(settings):
    settings.RATE_LIMIT_REDIS_URL = ""
    ratelimit.hit("track", "ip:198.51.100.7", Rate(5, 60), now=NOW - 600)  # a window that ended
    ratelimit.hit("track", "ip:198.51.100.7", Rate(5, 60), now=NOW)
    rows = list(RateCounter.objects.values_list("bucket", "hits"))
    assert len(rows) == 2 and all("198.51" not in bucket for bucket, _ in rows)
    [purge] = [j for j in registered_jobs() if j.name == "lib.ratelimit_purge"]
    assert purge.func() == 1
    assert RateCounter.objects.get().window_start == int(NOW // 60) * 60


def test_an_unreachable_redis_counts_in_the_database_instead(settings):
    settings.RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    limit = Rate(1, 60)
    assert ratelimit.hit("t", "a", limit).allowed
    assert not ratelimit.hit("t", "a", limit).allowed
    assert RateCounter.objects.get().hits == 2


def request(remote="203.0.113.9", forwarded=None):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    return RequestFactory().get("/track/", REMOTE_ADDR=remote, **extra)


def test_forwarded_for_is_counted_from_the_right_behind_configured_proxies(settings):
    settings.PROXY_COUNT = 0
    assert client_ip(request("10.0.0.5", "1.2.3.4")) == "10.0.0.5"  # a client can write anything there
    settings.PROXY_COUNT = 1
    assert client_ip(request("10.0.0.5", "6.6.6.6, 1.2.3.4")) == "1.2.3.4"  # what our proxy saw
    assert client_ip(request("10.0.0.5", "1.2.3.4")) == "1.2.3.4"
    settings.PROXY_COUNT = 2
    assert client_ip(request("10.0.0.5", "6.6.6.6, 1.2.3.4, 10.0.0.4")) == "1.2.3.4"
    assert client_ip(request("10.0.0.5", "1.2.3.4")) == "1.2.3.4"  # came in through the inner proxy only
    assert client_ip(request("10.0.0.5")) == "10.0.0.5"
    assert client_ip(request("10.0.0.5", "6.6.6.6, not-an-address, 10.0.0.4")) == "10.0.0.5"


def test_ipv6_clients_are_counted_per_64_block():
    a = ratelimit.client_key(request("2001:db8:1:2::1"))
    assert a == ratelimit.client_key(request("2001:db8:1:2:ffff::9")) == "2001:db8:1:2::/64"
    assert ratelimit.client_key(request("::ffff:198.51.100.7")) == "198.51.100.7"


# --- /track/ -----------------------------------------------------------------------------------


def test_track_under_the_limit_is_normal_and_over_it_is_429(client, case, settings, store):
    settings.RATE_LIMIT_TRACK = "3/m"
    for _ in range(3):
        assert track(client, case.tracking_code).status_code == 200
    response = track(client, case.tracking_code)
    page = response.content.decode()
    assert response.status_code == 429 and "查询过于频繁" in page and "请 50 秒后再试" in page and case.number not in page
    assert int(response["Retry-After"]) == 50
    assert track(client, case.tracking_code, ip="10.0.0.2").status_code == 200  # another client is not affected
    assert client.get("/track/", REMOTE_ADDR="10.0.0.1").status_code == 200  # the empty form is not a lookup


def test_misses_lock_out_only_that_caller_for_minutes_saying_when(client, case, settings, store):
    settings.RATE_LIMIT_TRACK = "100/m"
    settings.RATE_LIMIT_MISS = "2/10m"
    assert track(client, "AAAAAAAAAA").status_code == 404
    assert track(client, case.tracking_code).status_code == 200
    assert track(client, "BBBBBBBBBB").status_code == 404
    response = track(client, case.tracking_code)  # a right guess must not shine through once misses are spent
    page = response.content.decode()
    assert response.status_code == 429 and case.number not in page
    assert int(response["Retry-After"]) == 590  # until the ten-minute window ends, not an hour
    assert "请 10 分钟后" in page and "以后）再试" in page
    assert track(client, case.tracking_code, ip="10.0.0.2").status_code == 200


def test_a_signed_in_user_and_a_staff_key_are_not_locked_out_by_anonymous_misses(client, case, users, settings, store):
    settings.RATE_LIMIT_MISS = "2/10m"
    for code in ("AAAAAAAAAA", "BBBBBBBBBB"):  # someone anonymous at the office's shared address guesses
        assert track(client, code).status_code == 404
        assert client.get(f"/open311/v2/tokens/{code}.json", REMOTE_ADDR="10.0.0.1").status_code == 404
    assert track(client, case.tracking_code).status_code == 429
    assert client.get(f"/open311/v2/tokens/{case.tracking_code}.json", REMOTE_ADDR="10.0.0.1").status_code == 429

    reporter = Client()
    reporter.force_login(users["resident"])
    assert track(reporter, case.tracking_code).status_code == 200  # same address, signed in
    key = create_api_token(users["dispatcher"], "pytest")[1]
    staff = client.get(f"/open311/v2/requests/{case.number}.json", {"api_key": key}, REMOTE_ADDR="10.0.0.1")
    assert staff.status_code == 200 and json.loads(staff.content)[0]["service_request_id"] == case.number


def test_misses_lock_out_only_their_own_endpoint_family(client, case, settings, store):
    settings.RATE_LIMIT_MISS = "2/10m"
    assert track(client, "AAAAAAAAAA").status_code == 404
    assert track(client, "BBBBBBBBBB").status_code == 404
    assert track(client, case.tracking_code).status_code == 429
    assert client.get(f"/open311/v2/tokens/{case.tracking_code}.json", REMOTE_ADDR="10.0.0.1").status_code == 200
    assert client.get("/open311/v2/requests/SJ000.json", REMOTE_ADDR="10.0.0.1").status_code == 404
    assert client.get("/open311/v2/tokens/CCCCCCCCCC.json", REMOTE_ADDR="10.0.0.1").status_code == 404
    response = client.get(f"/open311/v2/requests/{case.number}.json", REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 429 and case.number not in response.content.decode()


def test_a_signed_in_user_is_counted_per_account_not_per_address(client, case, users, settings):
    settings.RATE_LIMIT_TRACK = "2/m"
    reporter = Client()
    reporter.force_login(users["resident"])
    assert [track(reporter, case.tracking_code, ip=ip).status_code for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3")] \
        == [200, 200, 429]
    assert track(client, case.tracking_code, ip="10.0.0.3").status_code == 200  # the address itself is not spent


def test_a_limit_can_be_switched_off(client, case, settings):
    settings.RATE_LIMIT_TRACK = ""
    assert all(track(client, case.tracking_code).status_code == 200 for _ in range(40))


def test_default_limits_come_from_settings(settings):
    assert Rate.parse(settings.RATE_LIMIT_TRACK) == Rate(30, 60)
    assert Rate.parse(settings.RATE_LIMIT_OPEN311) == Rate(60, 60)
    assert Rate.parse(settings.RATE_LIMIT_MISS) == Rate(20, 600)
    assert Rate.parse(settings.RATE_LIMIT_BAD_TOKEN) == Rate(20, 600)


# --- proxies -----------------------------------------------------------------------------------


def test_a_spoofed_leftmost_forwarded_for_does_not_escape_the_limit(client, case, settings):
    settings.PROXY_COUNT = 1
    settings.RATE_LIMIT_TRACK = "3/m"
    proxy = "10.0.0.254"  # every request reaches us through our proxy, which appends what it saw
    codes = [track(client, case.tracking_code, ip=proxy, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, 198.51.100.7")
             .status_code for n in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    neighbour = track(client, case.tracking_code, ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert neighbour.status_code == 200  # another client behind the same proxy is not affected


def test_the_audit_log_and_the_login_lockout_see_the_same_address(client, users, settings):
    settings.PROXY_COUNT = 1
    for n in range(settings.AXES_FAILURE_LIMIT):  # a new spoofed leftmost address every time
        client.post("/accounts/login/", {"username": "cs_a", "password": "wrong"}, REMOTE_ADDR="10.0.0.254",
                    HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, 198.51.100.7")
    locked = client.post("/accounts/login/", {"username": "cs_a", "password": PASSWORD}, REMOTE_ADDR="10.0.0.254",
                         HTTP_X_FORWARDED_FOR="203.0.113.99, 198.51.100.7")
    assert locked.status_code == 429
    assert set(AuditEvent.objects.filter(kind=AuditEvent.Kind.LOGIN_FAILED).values_list("ip", flat=True)) \
        == {"198.51.100.7"}
    elsewhere = Client().post("/accounts/login/", {"username": "cs_a", "password": PASSWORD},
                              REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert elsewhere.status_code == 302  # the lockout is per username and real address


# --- Open311 -----------------------------------------------------------------------------------


def test_open311_reads_are_limited_with_an_open311_error_and_retry_after(client, case, settings, store):
    settings.RATE_LIMIT_OPEN311 = "3/m"
    assert client.get("/open311/v2/requests.json", REMOTE_ADDR="10.0.0.1").status_code == 200
    assert client.get(f"/open311/v2/requests/{case.number}.json", REMOTE_ADDR="10.0.0.1").status_code == 200
    assert client.get(f"/open311/v2/tokens/{case.tracking_code}.xml", REMOTE_ADDR="10.0.0.1").status_code == 200
    response = client.get("/open311/v2/requests.json", REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 429 and int(response["Retry-After"]) == 50
    [error] = json.loads(response.content)
    assert error["code"] == 429 and "查询过于频繁，请 50 秒后再试" in error["description"]
    xml = client.get(f"/open311/v2/requests/{case.number}.xml", REMOTE_ADDR="10.0.0.1")
    assert xml.status_code == 429 and xml["Retry-After"] == "50"
    assert xmltodict.parse(xml.content)["errors"]["error"]["code"] == "429"
    assert client.get("/open311/v2/requests.json", REMOTE_ADDR="10.0.0.2").status_code == 200
    assert client.get("/open311/v2/services.json", REMOTE_ADDR="10.0.0.1").status_code == 200  # the catalog is free


def test_open311_with_an_api_key_is_counted_per_key(client, case, users, settings):
    settings.RATE_LIMIT_OPEN311 = "1/m"
    key = create_api_token(users["dispatcher"], "pytest")[1]
    other = create_api_token(users["dispatcher"], "another script")[1]
    assert client.get("/open311/v2/requests.json", REMOTE_ADDR="10.0.0.1").status_code == 200
    assert client.get("/open311/v2/requests.json", {"api_key": key}, REMOTE_ADDR="10.0.0.1").status_code == 200
    assert client.get("/open311/v2/requests.json", {"api_key": key}, REMOTE_ADDR="10.0.0.9").status_code == 429
    assert client.get("/open311/v2/requests.json", {"api_key": other}, REMOTE_ADDR="10.0.0.9").status_code == 200


# --- bad tokens --------------------------------------------------------------------------------


def bearer(client, token, ip="10.0.0.1"):
    return client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR=ip)


def test_bad_tokens_get_429_past_the_limit_while_a_good_token_still_works(client, users, settings, store):
    settings.RATE_LIMIT_BAD_TOKEN = "3/10m"
    good = create_api_token(users["dispatcher"], "pytest")[1]
    revoked_record, revoked = create_api_token(users["dispatcher"], "old script")
    revoke_api_token(users["dispatcher"], revoked_record.pk)
    assert bearer(client, "gr_guess-1").status_code == 401
    assert bearer(client, good).status_code == 200  # the office's own script, working meanwhile
    assert bearer(client, revoked).status_code == 401
    assert bearer(client, "not even the format").status_code == 401
    failures = AuditEvent.objects.filter(kind=AuditEvent.Kind.API_AUTH_FAILED).count()

    refused = bearer(client, "gr_guess-2")
    assert refused.status_code == 429 and int(refused["Retry-After"]) == 590
    assert "无效的接口令牌尝试过于频繁，请 10 分钟后" in refused.json()["detail"]
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.API_AUTH_FAILED).count() == failures  # not even looked up
    assert bearer(client, revoked).status_code == 429
    assert bearer(client, good).json()["username"] == "dp_street"  # the working script carries on
    other_staff = create_api_token(users["leader"], "pytest")[1]
    assert bearer(client, other_staff, ip="10.0.0.2").status_code == 200  # another address is not affected
    assert bearer(client, "gr_guess-3", ip="10.0.0.2").status_code == 401


def test_bad_open311_api_keys_count_with_bad_bearer_tokens(client, case, users, settings):
    settings.RATE_LIMIT_BAD_TOKEN = "2/10m"
    assert bearer(client, "gr_guess-1").status_code == 401
    assert client.get("/open311/v2/requests.json", {"api_key": "gr_guess-2"}, REMOTE_ADDR="10.0.0.1").status_code == 403
    response = client.get("/open311/v2/requests.xml", {"api_key": "gr_guess-3"}, REMOTE_ADDR="10.0.0.1")
    assert response.status_code == 429 and int(response["Retry-After"]) == 590
    assert "无效的接口令牌尝试过于频繁" in xmltodict.parse(response.content)["errors"]["error"]["description"]
    assert client.get("/open311/v2/requests.json", REMOTE_ADDR="10.0.0.1").status_code == 200  # without a key: public
