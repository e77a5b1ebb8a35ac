"""The demo as it is deployed, and owner-only files: `grassroots demo` in a new var/ folder of its
own serves through gunicorn (static files by whitenoise) with a `grassroots worker` beside it
and stops both on Ctrl+C; nothing it, the law index or a backup writes is readable by another
account, and uploads are owner-only whatever the process's umask."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command

from grassroots.cases.models import Attachment
from tests.installations import Installation, loose_modes

JPEG = b"\xff\xd8\xff\xe0" + b"0" * 100


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    site = Installation(tmp_path_factory.mktemp("demo"), "var", vendor="sqlite")
    site.run("demo", "--no-server")
    return site


def _tiny_law_corpus(path: Path) -> None:
    """The package's laws.db shape, two articles: what bootstrap.sh would find downloaded."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE articles (id INTEGER PRIMARY KEY, law_id TEXT, law_name TEXT, law_department TEXT, "
                   "status TEXT, chapter TEXT, article_no TEXT, article_no_arabic INTEGER, article_text TEXT)")
        db.executemany("INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?)", [
            (1, "l1", "中华人民共和国人民调解法", "全国人大常委会", "现行有效", "第一章", "第一条", 1, "为了完善人民调解制度"),
            (2, "l1", "中华人民共和国人民调解法", "全国人大常委会", "现行有效", "第四章", "第三十三条", 33, "经人民调解委员会调解达成调解协议后"),
        ])
    db.close()


def test_nothing_the_platform_writes_under_var_is_readable_by_others(demo):
    assert sorted(p.name for p in demo.var.iterdir()) == ["grassroots.sqlite3"]
    # The law index as scripts/bootstrap.sh builds it: a process with the usual umask (022).
    _tiny_law_corpus(demo.var / "laws" / "laws.db")
    env = demo.env()
    subprocess.run([sys.executable, "-m", "grassroots.disputes.laws", "install"], env=env, check=True,
                   capture_output=True)
    assert (demo.var / "laws" / "laws-index.sqlite3").exists()
    demo.run("backup")
    assert list((demo.var / "backups").glob("grassroots-*.tar"))
    assert loose_modes(demo.var) == []


def test_migrate_tightens_a_database_an_earlier_version_left_readable(demo):
    (demo.var / "grassroots.sqlite3").chmod(0o644)
    demo.var.chmod(0o755)
    demo.run("migrate")
    assert loose_modes(demo.var) == []


def test_uploads_are_owner_only_whatever_the_umask(settings, tmp_path):
    """A case photo is saved by the storage of Attachment.file: the file 0600, the folders made
    for it (cases/YYYY/MM/) 0700, also in a process whose umask would let others read."""
    settings.MEDIA_ROOT = tmp_path / "media"
    field = Attachment._meta.get_field("file")
    old = os.umask(0o022)
    try:
        name = field.storage.save(field.generate_filename(None, "现场.jpg"), ContentFile(JPEG))
    finally:
        os.umask(old)
    assert (tmp_path / "media" / name).read_bytes() == JPEG and name.startswith("cases/")
    assert loose_modes(tmp_path / "media") == []


def test_a_bad_address_is_refused_before_anything_is_done():
    with pytest.raises(CommandError, match="主机:端口"):
        call_command("demo", "--addr", "localhost:http")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> dict[int, str]:
    found = {}
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_demo_serves_through_gunicorn_with_a_worker_and_stops_on_ctrl_c(demo):
    port = _free_port()
    log = (demo.var.parent / "demo.log").open("w")
    process = demo.popen("demo", "--addr", f"127.0.0.1:{port}", stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (demo.var.parent / "demo.log").read_text()
            try:
                login = httpx.get(f"{base}/accounts/login/", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the demo did not answer"
                time.sleep(0.5)
        assert login.status_code == 200 and "登录" in login.text
        assert login.headers["server"] == "gunicorn"
        css = httpx.get(f"{base}/static/grassroots/app.css", timeout=10)
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css") and css.content
        leaflet = httpx.get(f"{base}/static/vendor/leaflet/leaflet.js", timeout=10)
        assert leaflet.status_code == 200 and b"Leaflet" in leaflet.content[:2000]

        children = _children(process.pid)
        assert any("gunicorn grassroots.wsgi:application" in c for c in children.values()), children
        assert any("grassroots.cli worker" in c for c in children.values()), children
        assert loose_modes(demo.var) == []  # the -wal and -shm files too, while they exist

        os.killpg(process.pid, signal.SIGINT)  # Ctrl+C in the terminal
        assert process.wait(timeout=60) == 0, (demo.var.parent / "demo.log").read_text()
        assert not any(_alive(pid) for pid in children)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{base}/accounts/login/", timeout=2)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
