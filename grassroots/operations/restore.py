"""`grassroots restore SNAPSHOT`: the platform as it was when the snapshot was taken.

1. Open the snapshot (an archive is unpacked into a private temporary folder; a folder is read
   in place) and check it against its manifest: format version, no file missing or extra, every
   checksum (manifest.verify).
2. Check the target: the same database vendor, a PostgreSQL server no older than the snapshot's,
   no migration this platform does not know, an empty database (no table of a model holds a row;
   what `migrate` writes by itself does not count) and an empty MEDIA_ROOT, unless --force.
   Up to here nothing is changed: every refusal leaves the target as it was.
3. The database: SQLite through the backup API into the database file (one transaction, seen by
   SQLite's locks); PostgreSQL with pg_restore --single-transaction (all or nothing).
4. The media files, each copied under a temporary name and renamed into place.
5. Every table's row count compared with the manifest.
Stop the web server and the workers first; start them again afterwards (docs/operations.md).
"""

import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connection
from django.db.migrations.loader import MigrationLoader

from grassroots.lib.files import make_private, private_dir, sqlite_files
from grassroots.operations import manifest as m
from grassroots.operations import postgres
from grassroots.operations.manifest import Refused

# Rows `migrate` writes by itself: a migrated database without records is still empty.
_MIGRATE_FILLS = (ContentType, Permission)


@dataclass
class Restored:
    manifest: dict
    media_files: int
    pending_migrations: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.manifest["tables"].values())


class CountsDiffer(Exception):
    """The restored database does not hold the rows the manifest counted."""


@contextmanager
def opened(source: str | os.PathLike):
    """The snapshot's folder: SOURCE itself, or SOURCE unpacked (and removed afterwards)."""
    source = Path(source).expanduser()
    if source.is_dir():
        yield source, False
        return
    if not source.is_file():
        raise Refused(f"找不到快照 {source}。")
    scratch = Path(settings.MEDIA_ROOT).parent
    folder = Path(tempfile.mkdtemp(prefix=".grassroots-restore-", dir=scratch if scratch.is_dir() else None))
    try:
        _unpack(source, folder)
        yield folder, True
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _unpack(archive: Path, into: Path) -> None:
    try:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                path = PurePosixPath(member.name)
                if not (member.isfile() or member.isdir()) or path.is_absolute() or ".." in path.parts:
                    raise Refused(f"快照中有不允许的条目“{member.name}”（只应有普通文件），拒绝恢复。")
            tar.extractall(into, filter="data")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise Refused(f"快照文件已损坏，无法读取（{exc}），拒绝恢复。") from exc


def check(source: str | os.PathLike) -> dict:
    """The manifest of SOURCE once it is whole (`grassroots restore --check`); nothing is changed."""
    with opened(source) as (root, _):
        return m.verify(root)


def restore(source: str | os.PathLike, *, force: bool = False, warn=print) -> Restored:
    with opened(source) as (root, unpacked):
        manifest = m.verify(root)
        pg_restore = _check_target(manifest, force)
        if warning := m.key_warning(manifest):
            warn(warning)
        if manifest["database"]["vendor"] == "sqlite":
            _restore_sqlite(root / manifest["database"]["file"])
        else:
            clean = bool(connection.introspection.table_names())
            connection.close()
            postgres.restore(pg_restore, root / manifest["database"]["file"], connection.settings_dict, clean=clean)
        media = _restore_media(root, manifest, move=unpacked)
    _compare_counts(manifest)
    return Restored(manifest, media, _pending_migrations(manifest))


# --- 2. the target ------------------------------------------------------------------------------


def _check_target(manifest: dict, force: bool):
    vendor = manifest["database"]["vendor"]
    if vendor != connection.vendor:
        raise Refused(f"快照来自 {m.VENDOR_NAMES[vendor]} 数据库，而当前配置的是 {m.VENDOR_NAMES.get(connection.vendor, connection.vendor)}"
                      f"（DATABASE_URL）：只能恢复到同一种数据库。未做任何改动。")
    unknown = sorted(set(_migrations(manifest)) - set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations))
    if unknown:
        names = "、".join(f"{app}.{name}" for app, name in unknown[:5])
        raise Refused(f"快照由更新版本的平台写成（{manifest.get('platform_version')}，本平台不认识的迁移：{names}）："
                      f"请先升级平台再恢复。未做任何改动。")
    pg_restore = None
    try:
        if vendor == "postgresql":
            server = postgres.server_major(connection)
            if server < manifest["database"].get("server_major", 0):
                raise Refused(f"快照来自 PostgreSQL {manifest['database']['server_major']}，目标服务器是 PostgreSQL "
                              f"{server}：只能恢复到同版本或更新的服务器。未做任何改动。")
            pg_restore, _ = postgres.tool("pg_restore", max(server, manifest["database"].get("pg_dump_major", 0)))
        filled = _tables_with_records()
    except DatabaseError as exc:
        raise Refused(f"无法读取目标数据库（{exc}）：请检查 DATABASE_URL；PostgreSQL 的数据库须先创建（createdb）。"
                      f"未做任何改动。") from exc
    media = _media_files()
    if (filled or media) and not force:
        what = []
        if filled:
            what.append(f"数据库中已有数据（{'、'.join(filled[:5])}{' 等' if len(filled) > 5 else ''}）")
        if media:
            what.append(f"上传文件目录 {settings.MEDIA_ROOT} 中已有 {media} 个文件")
        raise Refused("目标不是空的：" + "；".join(what) + "。恢复会覆盖它们；确认要覆盖时加 --force。未做任何改动。")
    return pg_restore


def _migrations(manifest: dict) -> list[tuple[str, str]]:
    return [(app, name) for app, names in manifest["migrations"].items() for name in names]


def _pending_migrations(manifest: dict) -> list[str]:
    known = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    return sorted(f"{app}.{name}" for app, name in set(known) - set(_migrations(manifest)))


def _sqlite_path() -> Path:
    return Path(settings.DATABASES["default"]["NAME"])


def _tables_with_records() -> list[str]:
    if connection.vendor == "sqlite" and not _sqlite_path().exists():
        return []  # a new file: empty, and not created by looking
    present = set(connection.introspection.table_names())
    filled = []
    for model in apps.get_models(include_auto_created=True):
        if model in _MIGRATE_FILLS or model._meta.proxy or not model._meta.managed:
            continue
        if model._meta.db_table in present and model._base_manager.exists():
            filled.append(model._meta.db_table)
    return sorted(filled)


def _media_files() -> int:
    root = Path(settings.MEDIA_ROOT)
    return len(m.walk(root)[0]) if root.is_dir() else 0


# --- 3, 4, 5 ------------------------------------------------------------------------------------


def _restore_sqlite(snapshot: Path) -> None:
    target = _sqlite_path()
    connection.close()
    private_dir(target.parent)
    source = sqlite3.connect(snapshot.resolve().as_uri() + "?mode=ro&immutable=1", uri=True)
    dest = sqlite3.connect(target, timeout=60)
    try:
        source.backup(dest)  # one transaction on the target: a reader sees the old or the new database
        dest.execute("PRAGMA journal_mode=WAL")
    finally:
        dest.close()
        source.close()
    for path in sqlite_files(target):
        make_private(path)


def _restore_media(root: Path, manifest: dict, *, move: bool) -> int:
    media = Path(settings.MEDIA_ROOT)
    names = [rel for rel in manifest["files"] if rel.startswith(m.MEDIA + "/")]
    if names:
        private_dir(media)
    for rel in names:
        target = media / rel.removeprefix(m.MEDIA + "/")
        private_dir(target.parent)
        partial = target.with_name(target.name + ".restoring")
        (shutil.move if move else shutil.copyfile)(root / rel, partial)
        make_private(partial)
        os.replace(partial, target)
    return len(names)


def _compare_counts(manifest: dict) -> None:
    with connection.cursor() as cursor:
        present = set(m.tables(cursor, connection.vendor))
        actual = m.count_rows(cursor, [t for t in manifest["tables"] if t in present])
    differ = [f"{t}（清单 {n} 行，实际 {actual.get(t, '无此表')}）" for t, n in manifest["tables"].items()
              if actual.get(t) != n]
    if differ:
        raise CountsDiffer("恢复后的行数与清单不符：" + "、".join(differ[:10]))
