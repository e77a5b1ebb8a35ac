"""Backups that restore, tried as an operator would: `grassroots backup` and `grassroots restore`
run as commands against installations of their own (tests/installations.py) — SQLite files, or
fresh PostgreSQL databases when the suite runs on PostgreSQL — holding the demo city (territory,
accounts, ledger persons with encrypted ID numbers and phones, cases, disputes) and cases with
photos in media."""

import json
import os
import stat
import tarfile
import threading
from pathlib import Path

import pytest

from tests.installations import ON_POSTGRES, Installation, loose_modes, postgres_reachable

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("backups")


@pytest.fixture(scope="module")
def installations(root):
    made = []

    def make(name: str, **kw) -> Installation:
        site = Installation(root, name, model=root / "classifier.joblib", **kw)
        made.append(site)
        return site

    yield make
    for site in made:
        site.drop()


@pytest.fixture(scope="module")
def source(root, installations):
    """The demo city plus three cases with photos, a copy of the secret key dropped into media
    by mistake, and a backup of it all."""
    site = installations("source")
    site.run("demo", "--no-server")
    site.run("train", "--output", root / "classifier.joblib")  # once: every intake process loads it
    site.shell("from tests.backup_helpers import add_photo_cases; add_photo_cases(3)")
    (site.media / "notes").mkdir(mode=0o700)
    (site.media / "notes" / "key-copy.txt").write_text(site.secret_key + "\n")
    done = site.run("backup", "--output", root / "snapshots")
    archive = next((root / "snapshots").glob("grassroots-*.tar"))
    return {"site": site, "archive": archive, "backup": done, "before": site.describe()}


def manifest_of(archive: Path) -> dict:
    with tarfile.open(archive) as tar:
        return json.load(tar.extractfile("manifest.json"))


def unpack(archive: Path, into: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


def record_view(described: dict) -> dict:
    return {k: v for k, v in described.items() if k not in ("counts", "pages")}


def test_a_backup_restores_into_an_empty_database_record_for_record(source, installations):
    site, archive = source["site"], source["archive"]
    manifest = manifest_of(archive)
    before = source["before"]

    # The snapshot: owner-only, whole, at the counts the platform had, and without any key.
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert stat.S_IMODE(archive.parent.stat().st_mode) == 0o700
    assert manifest["database"]["vendor"] == site.vendor
    assert manifest["tables"]["cases_case"] == before["counts"]["cases_case"] > 300
    assert manifest["tables"]["ledger_person"] == before["counts"]["ledger_person"] > 1000
    assert {t: n for t, n in before["counts"].items() if t in manifest["tables"]} == manifest["tables"]
    media = sorted(rel for rel in manifest["files"] if rel.startswith("media/"))
    assert len(media) == 3 and all(rel.startswith("media/cases/") for rel in media)
    assert "notes/key-copy.txt" in source["backup"].stderr
    data = archive.read_bytes()
    for key in (site.secret_key, site.privacy_key):
        assert key.encode() not in data
    assert len(manifest["keys"]["privacy"]) == 8  # the key's id, not the key

    target = installations("restored")
    done = target.run("restore", archive)
    assert "已恢复" in done.stdout and "警告" not in done.stderr

    after = target.describe()
    assert {t: after["counts"][t] for t in manifest["tables"]} == manifest["tables"]
    assert record_view(after) == record_view(before)  # every field, to the microsecond
    persons = after["persons"]
    assert all(len(p["id_number"]["plain"]) == 18 and p["id_number"]["token"].startswith("v2:") for p in persons)
    assert any(p["phone"]["plain"] for p in persons)
    assert all(c["reporter_phone"]["plain"] for c in after["cases"] if c["reporter_phone"]["token"])
    assert [a["digest"] for a in after["attachments"]][-3:] == [a["digest"] for a in before["attachments"]][-3:]
    assert all(a["digest"] != "missing" for a in after["attachments"])
    assert after["pages"] == before["pages"]
    assert all(page["status"] == 200 and all(page["marks"]) for page in after["pages"].values())
    assert not (target.media / "notes").exists()
    assert loose_modes(target.var) == []


def test_a_backup_taken_while_intake_runs_restores_whole(source, installations, root):
    """Cases with photos are reported through the intake service in another process while the
    backup runs; the restored database has exactly the manifest's counts, every case committed
    before the backup started, and no case without its clock, its first event or its photo."""
    site = source["site"]
    start = source["before"]["counts"]["cases_case"]
    stop = root / "stop-writing"
    log = (root / "writer.log").open("w")
    writer = site.popen("shell", "--no-imports", "-c", f"from tests.backup_helpers import write_cases; write_cases({str(stop)!r})",
                        stdout=-1, stderr=log, text=True)
    written: list[str] = []
    reader = threading.Thread(target=lambda: written.extend(line.strip() for line in writer.stdout), daemon=True)
    reader.start()
    try:
        _wait_for(lambda: len(written) >= 5, writer)
        committed_before = list(written)
        site.run("backup", "--output", root / "during.tar")
        after_backup = len(written)
        _wait_for(lambda: len(written) >= after_backup + 3, writer)
    finally:
        stop.touch()
        writer.wait(timeout=120)
        reader.join(timeout=10)
        log.close()
    assert writer.returncode == 0, (root / "writer.log").read_text()[-3000:]

    manifest = manifest_of(root / "during.tar")
    in_snapshot = manifest["tables"]["cases_case"]
    # Taken while intake ran: cases were written both while the backup ran and after it.
    assert start + len(committed_before) < in_snapshot < start + len(written)

    target = installations("during")
    target.run("restore", root / "during.tar")
    restored = target.describe(pages=False)
    assert {t: restored["counts"][t] for t in manifest["tables"]} == manifest["tables"]
    assert set(committed_before) <= set(restored["numbers"])
    assert restored["torn"] == {"cases without a clock": 0, "cases without their report event": 0}
    assert manifest["tables"]["cases_attachment"] == in_snapshot - start + 3
    assert all(a["digest"] != "missing" for a in restored["attachments"])


def _wait_for(condition, process, seconds: int = 180):
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the writer stopped ({process.returncode})")
        assert time.monotonic() < deadline, "the writer wrote too little"
        time.sleep(0.2)


def _flip_database_byte(archive: Path, copy: Path) -> Path:
    data = bytearray(archive.read_bytes())
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.startswith("database."))
    data[member.offset_data + member.size // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    return copy


def _in_folder(change):
    def tamper(archive: Path, copy: Path) -> Path:
        folder = unpack(archive, copy.with_suffix(""))
        change(folder)
        return folder
    return tamper


def _first_photo(folder: Path) -> Path:
    return next(p for p in sorted((folder / "media").rglob("*")) if p.is_file())


def _change_photo_byte(folder: Path) -> None:
    photo = _first_photo(folder)
    data = bytearray(photo.read_bytes())
    data[-1] ^= 0x20
    photo.write_bytes(bytes(data))


def _edit_manifest(**changes):
    def change(folder: Path) -> None:
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest.update(changes)
        (folder / "manifest.json").write_text(json.dumps(manifest))
    return change


def _cut(archive: Path, copy: Path) -> Path:
    copy.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    return copy


TAMPERINGS = {
    "one byte of the database": (_flip_database_byte, "内容与校验和不符"),
    "one byte of a photo": (_in_folder(_change_photo_byte), "内容与校验和不符"),
    "a photo removed": (_in_folder(lambda f: _first_photo(f).unlink()), "缺少文件"),
    "a file added": (_in_folder(lambda f: (f / "media" / "extra.jpg").write_bytes(b"\xff\xd8\xff")), "清单之外的文件"),
    "an unknown format version": (_in_folder(_edit_manifest(format_version=99)), "快照格式版本 99 不受支持"),
    "a cut archive": (_cut, "快照文件已损坏"),
}


@pytest.fixture(scope="module")
def untouched(installations):
    """An empty installation that every refused restore below must leave empty."""
    return installations("untouched")


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_a_tampered_snapshot_is_refused_and_the_target_left_untouched(tampering, source, untouched, root):
    tamper, message = TAMPERINGS[tampering]
    snapshot = tamper(source["archive"], root / f"tampered-{tampering.replace(' ', '-')}.tar")
    target = untouched
    done = target.run("restore", snapshot, check=False)
    assert done.returncode != 0
    assert message in done.stderr and "拒绝恢复" in done.stderr
    assert target.tables() == []
    assert not target.media.exists() and not any(target.var.glob(".grassroots-restore-*"))


def test_a_database_that_is_not_empty_is_refused_unless_forced(source, installations):
    manifest = manifest_of(source["archive"])
    target = installations("busy")
    target.run("restore", source["archive"])
    target.shell("from tests.backup_helpers import add_photo_cases; add_photo_cases(1, '恢复后新登记')")

    refused = target.run("restore", source["archive"], check=False)
    assert refused.returncode == 1
    assert "目标不是空的" in refused.stderr and "--force" in refused.stderr and "cases_case" in refused.stderr
    kept = target.describe(pages=False)
    assert kept["counts"]["cases_case"] == manifest["tables"]["cases_case"] + 1

    target.run("restore", "--force", source["archive"])
    forced = target.describe(pages=False)
    assert {t: forced["counts"][t] for t in manifest["tables"]} == manifest["tables"]
    assert record_view(forced) == record_view(source["before"])


def test_a_freshly_migrated_database_counts_as_empty(source, installations):
    target = installations("migrated")
    target.run("migrate")
    done = target.run("restore", source["archive"])
    assert "已恢复" in done.stdout
    assert target.describe(pages=False)["counts"]["ledger_person"] == source["before"]["counts"]["ledger_person"]


def test_restore_warns_when_the_configured_key_is_not_the_one_the_data_was_written_with(source, installations):
    target = installations("otherkey", privacy_key="another-key-" + "z" * 40)
    checked = target.run("restore", "--check", source["archive"])
    assert "快照完整" in checked.stdout and "不是写入快照时的密钥" in checked.stderr
    assert target.tables() == []
    done = target.run("restore", source["archive"])
    assert "不是写入快照时的密钥" in done.stderr and "PRIVACY_KEY" in done.stderr
    unreadable = target.shell("from tests.backup_helpers import describe; describe(pages=False)", check=False)
    assert unreadable.returncode != 0 and "DecryptionFailed" in unreadable.stderr


def test_a_snapshot_of_a_newer_platform_is_refused(source, untouched, root):
    folder = unpack(source["archive"], root / "newer")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["migrations"]["cases"].append("9999_from_the_future")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    done = untouched.run("restore", folder, check=False)
    assert done.returncode == 1 and "更新版本的平台" in done.stderr and "cases.9999_from_the_future" in done.stderr
    assert untouched.tables() == [] and not untouched.media.exists()


def test_restore_check_reads_a_snapshot_without_changing_anything(source, untouched):
    target = untouched
    done = target.run("restore", "--check", source["archive"])
    assert "快照完整" in done.stdout
    assert target.tables() == [] and not target.media.exists()


def test_a_snapshot_restores_only_into_the_same_kind_of_database(source, installations):
    other = "sqlite" if ON_POSTGRES else "postgresql"
    if other == "postgresql" and not postgres_reachable():
        pytest.skip("no PostgreSQL server to try a SQLite snapshot on")
    target = installations("othervendor", vendor=other)
    done = target.run("restore", source["archive"], check=False)
    assert done.returncode == 1 and "只能恢复到同一种数据库" in done.stderr
    assert target.tables() == []


@pytest.mark.skipif(not ON_POSTGRES, reason="pg_dump is used for PostgreSQL only")
def test_pg_dump_missing_or_older_than_the_server_is_refused_in_chinese(source, root):
    site = source["site"]
    fake = root / "old-client"
    fake.mkdir()
    (fake / "pg_dump").write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    (fake / "pg_dump").chmod(0o755)
    cases = [
        ({"PG_BIN_DIR": str(fake)}, "低于数据库服务器"),
        ({"PG_BIN_DIR": str(root / "nowhere")}, "中没有可执行的 pg_dump"),
        ({"PATH": str(Path(os.__file__).parent)}, "找不到 pg_dump"),
    ]
    for extra, message in cases:
        done = site.run("backup", "--output", root / "refused", check=False, **extra)
        assert done.returncode == 1 and message in done.stderr, done.stderr
    assert not any((root / "refused").glob("*.tar"))
