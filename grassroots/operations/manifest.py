"""A snapshot and its manifest: what a backup holds, and how to tell it is whole.

A snapshot is one tar archive (or the folder it unpacks to):

    manifest.json        what is below
    database.sqlite3     SQLite: a copy made through the online backup API (standalone, no -wal)
    database.pgdump      PostgreSQL: pg_dump --format=custom
    media/…              every file under MEDIA_ROOT

manifest.json:
    format, format_version   "grassroots-backup", 1 (restore refuses any other)
    platform_version         the grassroots package's version that wrote it
    created_at               ISO 8601
    database                 vendor, file, server version (PostgreSQL: and pg_dump's major version)
    migrations               {app: [applied migration names]} as in the snapshot
    tables                   {table: row count} as in the snapshot, counted at the instant it was taken
    files                    {relative path: {"sha256", "size"}} of every file but the manifest
    keys                     the ids of the personal-data keys (PRIVACY_KEY, PRIVACY_OLD_KEYS): an
                             HMAC-SHA256 of a fixed label under each key (lib.privacy.key_id), so
                             restore can tell whether the configured key is the one the data was
                             written with; they reveal nothing about the keys themselves.
No key is ever in a snapshot (docs/operations.md: backups are restored with the same key).
"""

import hashlib
import json
import os
from pathlib import Path

FORMAT = "grassroots-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DB_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
MEDIA = "media"
VENDOR_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
_CHUNK = 1 << 20


class Refused(Exception):
    """A backup or restore that cannot go ahead; the message says why (in Chinese)."""


# --- files -------------------------------------------------------------------------------------


def sha256_of(path: Path) -> dict:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


def walk(root: Path) -> tuple[list[str], list[str]]:
    """(files, others) under ROOT as POSIX relative paths, manifest.json left out. "others" are
    entries a snapshot never holds (symbolic links, sockets…)."""
    files, others = [], []
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        for name in dirs:
            if (here / name).is_symlink():
                others.append((here / name).relative_to(root).as_posix())
        for name in names:
            path = here / name
            rel = path.relative_to(root).as_posix()
            if rel == MANIFEST:
                continue
            (files if path.is_file() and not path.is_symlink() else others).append(rel)
    return sorted(files), sorted(others)


# --- the personal-data key, by fingerprint only --------------------------------------------------


def key_fingerprints() -> dict:
    """The key ids (lib.privacy.key_id: an HMAC of a fixed label under the key, as in every
    "v2:<kid>:…" value) of PRIVACY_KEY and PRIVACY_OLD_KEYS."""
    from django.conf import settings

    from grassroots.lib.privacy import key_id

    return {"setting": "PRIVACY_KEY", "privacy": key_id(settings.PRIVACY_KEY),
            "privacy_old": [key_id(k) for k in settings.PRIVACY_OLD_KEYS]}


def key_warning(manifest: dict) -> str:
    """A warning when the configured keys cannot read what the snapshot was written with."""
    written = manifest.get("keys") or {}
    if not written.get("privacy"):
        return ""
    now = key_fingerprints()
    readable = {now["privacy"], *now["privacy_old"]}
    lacking = [kid for kid in [written["privacy"], *written.get("privacy_old", [])] if kid not in readable]
    if not lacking:
        return ""
    if written["privacy"] in readable:
        return (f"警告：快照写入时密钥轮换尚未完成，其中可能有用旧密钥（{'、'.join(lacking)}）加密的数据，"
                f"而当前配置没有这个旧密钥：请把它加回 PRIVACY_OLD_KEYS，否则这部分身份证号和电话无法解密。")
    return (f"警告：当前配置的个人信息密钥（PRIVACY_KEY，密钥编号 {now['privacy']}）不是写入快照时的密钥"
            f"（密钥编号 {written['privacy']}）：恢复后身份证号和电话无法解密。请配置原来的密钥后再启动平台。")


# --- what the database holds -----------------------------------------------------------------


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def tables(cursor, vendor: str) -> list[str]:
    """Every table of the database (SQLite's own and virtual tables aside: an FTS5 table's rows
    are in its shadow tables, which are listed)."""
    if vendor == "sqlite":
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                       "AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name")
    else:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename")
    return [row[0] for row in cursor.fetchall()]


def count_rows(cursor, names: list[str]) -> dict[str, int]:
    counts = {}
    for name in names:
        cursor.execute(f"SELECT COUNT(*) FROM {quote(name)}")
        counts[name] = cursor.fetchone()[0]
    return counts


def applied_migrations(cursor, names: list[str]) -> dict[str, list[str]]:
    if "django_migrations" not in names:
        return {}
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    applied: dict[str, list[str]] = {}
    for app, name in cursor.fetchall():
        applied.setdefault(app, []).append(name)
    return applied


def database_state(cursor, vendor: str) -> dict:
    """Row counts and migration state, read through CURSOR (inside the snapshot's transaction)."""
    names = tables(cursor, vendor)
    return {"tables": count_rows(cursor, names), "migrations": applied_migrations(cursor, names)}


# --- reading a snapshot back ---------------------------------------------------------------------


def verify(root: Path) -> dict:
    """The manifest of the snapshot unpacked at ROOT, once every file matches it; Refused otherwise."""
    path = root / MANIFEST
    if not path.is_file():
        raise Refused("快照中没有 manifest.json：这不是 grassroots backup 写出的快照，或者它已损坏；拒绝恢复。")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(f"快照的 manifest.json 已损坏（{exc}），拒绝恢复。") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise Refused("manifest.json 不是 grassroots 备份的清单，拒绝恢复。")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise Refused(f"快照格式版本 {manifest.get('format_version')!r} 不受支持（本平台读取版本 {FORMAT_VERSION}），拒绝恢复。")
    try:
        listed = {str(rel): (str(info["sha256"]), int(info["size"])) for rel, info in manifest["files"].items()}
        vendor = manifest["database"]["vendor"]
        database_file = manifest["database"]["file"]
        manifest["tables"].items()
        manifest["migrations"].items()
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise Refused(f"快照的清单不完整（{exc}），拒绝恢复。") from exc
    if vendor not in DB_FILES or database_file != DB_FILES[vendor] or database_file not in listed:
        raise Refused("快照的清单没有登记数据库文件，拒绝恢复。")

    present, others = walk(root)
    missing = sorted(set(listed) - set(present))
    extra = sorted((set(present) - set(listed)) | set(others))
    changed = []
    for rel in sorted(set(listed) & set(present)):
        sha, size = listed[rel]
        if (root / rel).stat().st_size != size or sha256_of(root / rel)["sha256"] != sha:
            changed.append(rel)
    problems = [(label, names) for label, names in
                (("缺少文件", missing), ("清单之外的文件", extra), ("内容与校验和不符", changed)) if names]
    if problems:
        lines = [f"  {label}：{'、'.join(names[:5])}{f' 等 {len(names)} 个' if len(names) > 5 else ''}"
                 for label, names in problems]
        raise Refused("快照与它的清单不符（可能损坏或被改动），拒绝恢复：\n" + "\n".join(lines))
    return manifest
