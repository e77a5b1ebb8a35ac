"""`grassroots backup`: one consistent snapshot of the database and the media files, with a
manifest (manifest.py), in one owner-only tar archive.

1. The database, at one instant, while the web server and the worker go on writing:
   * SQLite through the online backup API (sqlite3 Connection.backup, in one step): one read
     transaction copies every committed page, those still in the -wal file included (a copy of
     the database file would miss them, or catch a page half-written);
   * PostgreSQL with pg_dump (custom format) reading the snapshot of our own REPEATABLE READ
     transaction (pg_export_snapshot, pg_dump --snapshot).
   The row counts and the migration state in the manifest are read from that same instant.
2. Then the media files. An upload is saved before its row is committed, so every row of the
   snapshot finds its file; a file uploaded after step 1 may come along without a row (harmless).
3. The manifest, with a checksum of every file; then the archive, written under a temporary name,
   synced and renamed, so a half-written backup never carries the final name.
No key is copied: not SECRET_KEY, not the personal-data key (the manifest has its fingerprint only);
a file under MEDIA_ROOT that is a configured key file, or holds a key, is left out.
"""

import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from grassroots.lib.files import make_private, private_dir, sqlite_files, write_private
from grassroots.operations import manifest as m
from grassroots.operations import postgres
from grassroots.operations.manifest import Refused

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")
# The settings that hold keys; each may come from a NAME_FILE (lib/env.py), never to be backed up.
KEY_SETTINGS = ("SECRET_KEY", "PRIVACY_KEY", "PRIVACY_OLD_KEYS", "LEDGER_KEY")


@dataclass
class Backup:
    path: Path
    manifest: dict
    skipped: list[str]

    @property
    def rows(self) -> int:
        return sum(self.manifest["tables"].values())

    @property
    def media_files(self) -> int:
        return sum(1 for rel in self.manifest["files"] if rel.startswith(m.MEDIA + "/"))


def output_path(output: str | None, now: datetime) -> Path:
    """The archive to write: OUTPUT when it names a .tar / .tar.gz file, a new timestamped archive
    inside OUTPUT when it is a folder (made when missing), inside settings.BACKUP_DIR by default."""
    name = f"grassroots-{timezone.localtime(now):%Y%m%d-%H%M%S}.tar"
    path = Path(output).expanduser() if output else Path(settings.BACKUP_DIR)
    if not path.name.endswith(ARCHIVE_SUFFIXES):
        path = private_dir(path) / name
    elif not path.parent.is_dir():
        raise Refused(f"目录 {path.parent} 不存在。")
    if path.exists():
        raise Refused(f"{path} 已存在，不会覆盖。")
    media = Path(settings.MEDIA_ROOT).resolve()
    if path.resolve().is_relative_to(media):
        raise Refused(f"备份不能写在上传文件目录 MEDIA_ROOT（{media}）之内。")
    return path


def take(output: str | None = None) -> Backup:
    now = timezone.now()
    pg_dump = postgres.tool("pg_dump", postgres.server_major(connection)) if connection.vendor == "postgresql" else None
    target = output_path(output, now)
    staging = Path(tempfile.mkdtemp(prefix=".grassroots-backup-", dir=target.parent))  # 0700
    try:
        database, state = _postgres(staging, *pg_dump) if pg_dump else _sqlite(staging)
        files = {database["file"]: m.sha256_of(staging / database["file"])}
        media, skipped = _copy_media(staging / m.MEDIA)
        files.update(media)
        manifest = {
            "format": m.FORMAT,
            "format_version": m.FORMAT_VERSION,
            "platform_version": _platform_version(),
            "created_at": now.isoformat(),
            "database": database,
            "migrations": state["migrations"],
            "tables": state["tables"],
            "files": dict(sorted(files.items())),
            "keys": m.key_fingerprints(),
        }
        write_private(staging / m.MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode())
        _pack(staging, sorted(files), target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Backup(target, manifest, skipped)


def _platform_version() -> str:
    try:
        return metadata.version("grassroots")
    except metadata.PackageNotFoundError:
        return "unknown"


def _sqlite(staging: Path) -> tuple[dict, dict]:
    name = settings.DATABASES["default"]["NAME"]
    if not Path(name).is_file():
        raise Refused(f"数据库文件 {name} 不存在，没有可备份的数据。")
    out = staging / m.DB_FILES["sqlite"]
    source = sqlite3.connect(name, timeout=60)
    copy = sqlite3.connect(out)
    try:
        source.backup(copy)  # pages=-1: the whole database in one step, one read transaction
        copy.execute("PRAGMA journal_mode=DELETE")  # a standalone file: nothing beside it in the snapshot
        state = m.database_state(copy.cursor(), "sqlite")
    finally:
        copy.close()
        source.close()
    make_private(out)
    return {"vendor": "sqlite", "file": out.name, "server_version": sqlite3.sqlite_version}, state


def _postgres(staging: Path, pg_dump: Path, dump_major: int) -> tuple[dict, dict]:
    out = staging / m.DB_FILES["postgresql"]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        state = m.database_state(cursor, "postgresql")
        postgres.dump(pg_dump, out, snapshot, connection.settings_dict)  # while the snapshot is held
    make_private(out)
    return {"vendor": "postgresql", "file": out.name, "server_version": connection.pg_version,
            "server_major": connection.pg_version // 10000, "pg_dump_major": dump_major}, state


def _key_files() -> tuple[set[Path], set[bytes]]:
    """The files the key settings were read from, and the keys' values (to recognise a copy)."""
    paths = {Path(os.environ[f"{s}_FILE"]).resolve() for s in KEY_SETTINGS if os.environ.get(f"{s}_FILE")}
    values = set()
    for s in KEY_SETTINGS:
        value = getattr(settings, s, None)
        for v in value if isinstance(value, list | tuple) else [value]:
            if v:
                values.add((v.encode() if isinstance(v, str) else bytes(v)).strip())
    if connection.vendor == "sqlite":
        paths |= {p.resolve() for p in sqlite_files(settings.DATABASES["default"]["NAME"])}
    return paths, values


def _copy_media(into: Path) -> tuple[dict, list[str]]:
    """Copy every file under MEDIA_ROOT into INTO and checksum the copy; key files and the
    database's own files are left out (and reported)."""
    root = Path(settings.MEDIA_ROOT)
    files, skipped = {}, []
    if not root.is_dir():
        return files, skipped
    excluded, secrets = _key_files()
    for rel in m.walk(root)[0]:
        source = root / rel
        if source.resolve() in excluded or (source.stat().st_size <= 4096 and source.read_bytes().strip() in secrets):
            skipped.append(rel)
            continue
        target = into / rel
        private_dir(target.parent)
        shutil.copyfile(source, target)
        make_private(target)
        files[f"{m.MEDIA}/{rel}"] = m.sha256_of(target)
    return files, skipped


def _owner_only(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o600
    return info


def _pack(staging: Path, names: list[str], target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w:gz" if target.name.endswith((".gz", ".tgz")) else "w",
                              format=tarfile.PAX_FORMAT) as tar:
                for name in [m.MANIFEST, *names]:
                    tar.add(staging / name, arcname=name, recursive=False, filter=_owner_only)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    make_private(target)
