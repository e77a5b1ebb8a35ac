"""pg_dump and pg_restore, found on PATH or in settings.PG_BIN_DIR, and run with the connection
settings of DATABASES["default"] passed through libpq's environment variables (a password is
never on a command line, where `ps` would show it)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

from django.conf import settings

from grassroots.operations.manifest import Refused

# DATABASES OPTIONS that are libpq connection parameters, and their environment variables.
_LIBPQ_ENV = {
    "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL", "connect_timeout": "PGCONNECT_TIMEOUT", "application_name": "PGAPPNAME",
    "options": "PGOPTIONS", "target_session_attrs": "PGTARGETSESSIONATTRS", "service": "PGSERVICE",
    "passfile": "PGPASSFILE",
}


def _find(name: str) -> Path:
    folder = settings.PG_BIN_DIR
    if folder:
        path = Path(folder) / name
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise Refused(f"PG_BIN_DIR（{folder}）中没有可执行的 {name}：请把它设为 PostgreSQL 客户端的 bin 目录，"
                          f"例如 /usr/lib/postgresql/16/bin。")
        return path
    found = shutil.which(name)
    if not found:
        raise Refused(f"找不到 {name}：请安装 PostgreSQL 客户端（Debian/Ubuntu：apt-get install postgresql-client），"
                      f"或用 PG_BIN_DIR 指向它所在的目录。")
    return Path(found)


def _major(path: Path) -> int:
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=60).stdout
    except OSError as exc:
        raise Refused(f"无法运行 {path}：{exc}") from exc
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    if not match:
        raise Refused(f"无法识别 {path} 的版本（它输出：{out.strip()[:200]}）。")
    return int(match.group(1))


def server_major(connection) -> int:
    connection.ensure_connection()
    return connection.pg_version // 10000


def tool(name: str, at_least: int) -> tuple[Path, int]:
    """(path, major version) of NAME, refused when it is missing or older than AT_LEAST."""
    path = _find(name)
    major = _major(path)
    if major < at_least:
        raise Refused(f"{name}（{path}）的版本是 {major}，低于数据库服务器的 PostgreSQL {at_least}：请安装 "
                      f"PostgreSQL {at_least} 或更新版本的客户端（postgresql-client-{at_least}），"
                      f"或用 PG_BIN_DIR 指向它的 bin 目录。")
    return path, major


def environment(db: dict) -> dict:
    env = dict(os.environ)
    for key, var in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD")):
        if db.get(key):
            env[var] = str(db[key])
    for key, value in (db.get("OPTIONS") or {}).items():
        if key in _LIBPQ_ENV and value not in (None, ""):
            env[_LIBPQ_ENV[key]] = str(value)
    return env


def _run(args: list, db: dict, failure: str) -> None:
    done = subprocess.run([str(a) for a in args], env=environment(db), capture_output=True, text=True)
    if done.returncode != 0:
        detail = "\n".join(done.stderr.strip().splitlines()[-8:])
        raise Refused(f"{failure}：\n{detail}")


def dump(pg_dump: Path, out: Path, snapshot: str, db: dict) -> None:
    """pg_dump in custom format, reading the exported SNAPSHOT (the caller's open transaction)."""
    _run([pg_dump, "--format=custom", f"--snapshot={snapshot}", "--no-password", "--file", out, db["NAME"]],
         db, "pg_dump 失败，没有写出备份")


def restore(pg_restore: Path, archive: Path, db: dict, *, clean: bool) -> None:
    """pg_restore in one transaction: the target is changed wholly or not at all. CLEAN drops the
    snapshot's objects first (a target that has the tables, e.g. after `grassroots migrate`).
    Owners and grants are those of the account restoring, so another server's roles need not exist."""
    args = [pg_restore, "--dbname", db["NAME"], "--no-owner", "--no-privileges", "--single-transaction",
            "--exit-on-error", "--no-password"]
    if clean:
        args += ["--clean", "--if-exists"]
    _run(args + [archive], db, "pg_restore 失败，目标数据库未被改动")
