"""The limits as deployed: `gunicorn grassroots.wsgi --workers 4` against an installation's own
database (SQLite file, or a PostgreSQL database when the suite runs on PostgreSQL).

* 150 lookups on /track/ against a limit of 30 let exactly 30 through, whichever of the four
  processes serve them: counted in the database, and in Redis.
* A request announcing a 300 MB body is answered 413 when only its headers and a few bytes
  have been sent; a chunked body is read up to the cap and no further.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.installations import Installation
from tests.test_ratelimit import REDIS_URL, redis_reachable

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
LIMITS = {"RATE_LIMIT_TRACK": "30/d", "RATE_LIMIT_MISS": "off", "REQUEST_BODY_MAX_MB": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    installation = Installation(tmp_path_factory.mktemp("limits"), "var")
    installation.run("migrate")
    yield installation
    installation.drop()


@contextmanager
def gunicorn(site: Installation, name: str, **env):
    """Four gunicorn workers serving SITE; yields (base URL, log file). Stopped afterwards."""
    port = _free_port()
    log_path = site.var.parent / f"gunicorn-{name}.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        # --preload: the platform loads once, before the fork (a shared, busy machine would
        # otherwise take longer than a worker's default 30 s to import it four times at once).
        [GUNICORN, "grassroots.wsgi", "--workers", "4", "--bind", f"127.0.0.1:{port}", "--preload",
         "--timeout", "600", "--no-control-socket",
         "--access-logfile", "-", "--access-logformat", "access %(p)s %(s)s %(U)s"],
        env=site.env(**LIMITS, **env), cwd=site.var.parent, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while log_path.read_text().count("Booting worker") < 4 or not _answers(base):
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "gunicorn did not start:\n" + log_path.read_text()
            time.sleep(0.5)
        # Every worker has loaded the platform before the measured requests (not counted: no code).
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(lambda _: httpx.get(f"{base}/track/", timeout=60).status_code, range(16))) == {200}
        yield base, log_path
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def _answers(base: str) -> bool:
    try:
        httpx.get(f"{base}/track/", timeout=5)
    except httpx.TransportError:
        return False
    return True


def _lookups(base: str, n: int = 150) -> Counter:
    with ThreadPoolExecutor(8) as pool:
        codes = pool.map(lambda _: httpx.get(f"{base}/track/", params={"code": "ZZZZZZZZZZ"}, timeout=60).status_code,
                         range(n))
        return Counter(codes)


def _workers_that_served(log_path: Path) -> set[str]:
    return {line.split()[1] for line in log_path.read_text().splitlines()
            if line.startswith("access ") and line.split()[2] in ("404", "429")}


def _counter_rows(site: Installation) -> int:
    out = site.shell("from grassroots.lib.models import RateCounter; print(RateCounter.objects.count())").stdout
    return int(out.strip().splitlines()[-1])


def test_the_limit_holds_across_four_gunicorn_workers_counted_in_redis(site):
    if not redis_reachable():
        pytest.skip(f"Redis is not reachable at {REDIS_URL} (.ci/run starts it)")
    before = _counter_rows(site)
    with gunicorn(site, "redis", RATE_LIMIT_REDIS_URL=REDIS_URL) as (base, log_path):
        statuses = _lookups(base)
        assert statuses == {404: 30, 429: 120}, statuses
        assert len(_workers_that_served(log_path)) >= 2, log_path.read_text()
    assert _counter_rows(site) == before  # nothing was counted in the database
    assert "Redis 不可用" not in log_path.read_text()


@pytest.fixture(scope="module")
def served(site):
    """Four workers counting in the database: (base URL, log file)."""
    with gunicorn(site, "database") as running:
        yield running


@pytest.fixture(scope="module")
def server(served):
    return int(served[0].rsplit(":", 1)[1])


def test_the_limit_holds_across_four_gunicorn_workers_counted_in_the_database(site, served):
    base, log_path = served
    statuses = _lookups(base)
    assert statuses == {404: 30, 429: 120}, statuses  # per process it was 120 of 150 through
    assert len(_workers_that_served(log_path)) >= 2, log_path.read_text()
    refused = httpx.get(f"{base}/track/", params={"code": "ZZZZZZZZZZ"}, timeout=60)
    assert refused.status_code == 429 and "查询过于频繁" in refused.text and int(refused.headers["Retry-After"]) > 0
    assert _counter_rows(site) >= 1


def _exchange(port: int, head: bytes, body: bytes = b"") -> bytes:
    """Send HEAD and the first bytes of a body, then read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        conn.sendall(head + body)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
        return answer


def _split(answer: bytes) -> tuple[str, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.decode("latin-1"), body


@pytest.mark.parametrize(("path", "kind"), [
    ("/api/cases", "api"), ("/open311/v2/requests.json", "open311"), ("/open311/v2/requests.xml", "open311-xml"),
    ("/cases/report/", "page"),
])
def test_an_announced_300_mb_body_is_refused_before_it_is_sent(server, path, kind):
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {300 * 1024 * 1024}\r\n\r\n").encode()
    status, body = _split(_exchange(server, head, b"service_code=02.01.02&description="))  # 300 MB never follow
    assert status.startswith("HTTP/1.1 413 ")
    text = body.decode()
    if kind == "api":
        assert json.loads(text)["detail"].startswith("提交的内容过大：此处最多 1 MB")
    elif kind == "open311":
        assert json.loads(text)[0]["code"] == 413
    elif kind == "open311-xml":
        assert "<code>413</code>" in text and "提交的内容过大" in text
    else:
        assert "提交内容过大" in text and "请缩小或拆分文件后重试" in text


def _chunked(data: bytes, size: int = 16384) -> bytes:
    out = b""
    for start in range(0, len(data), size):
        piece = data[start:start + size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out


def test_a_chunked_body_is_read_within_the_cap_and_refused_past_it(server):
    head = (b"POST /open311/v2/requests.json HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n")
    status, body = _split(_exchange(server, head, _chunked(b"service_code=02.01.02&api_key=gr_nope") + b"0\r\n\r\n"))
    assert status.startswith("HTTP/1.1 403 ")  # the body was read: its api_key was judged
    assert "api_key 无效" in json.loads(body)[0]["description"]

    over = b"description=" + b"x" * (1024 * 1024 + 200_000)  # past the 1 MB cap; no end chunk follows
    status, body = _split(_exchange(server, head, _chunked(over)))
    assert status.startswith("HTTP/1.1 413 ") and json.loads(body)[0]["code"] == 413
