"""Separate installations of the platform for tests that run the `grassroots` command as an
operator does: each has its own var/ folder, its own keys and its own database — a SQLite file,
or, when the suite runs on PostgreSQL, a database created on the same server for it and dropped
afterwards."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import dj_database_url

REPO = Path(__file__).resolve().parent.parent
GRASSROOTS = str(Path(sys.executable).parent / "grassroots")
SUITE_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = SUITE_URL.startswith(("postgres://", "postgresql://"))
# What an installation sets for itself; the rest of the environment is the suite's.
OWN = ("DATABASE_URL", "GRASSROOTS_VAR_DIR", "MEDIA_ROOT", "STATIC_ROOT", "BACKUP_DIR", "SQLITE_TEST_NAME",
       "CLASSIFIER_MODEL_PATH", "LAW_CORPUS_DIR", "PG_BIN_DIR", "DEBUG")
KEYS = ("SECRET_KEY", "LEDGER_KEY", "PRIVACY_KEY", "PRIVACY_OLD_KEYS")


def _server(url: str = SUITE_URL) -> dict:
    return dj_database_url.parse(url)


def _admin(sql: str, url: str = SUITE_URL) -> None:
    import psycopg

    db = _server(url)
    with psycopg.connect(dbname="postgres", user=db["USER"], password=db["PASSWORD"] or None,
                         host=db["HOST"] or None, port=db["PORT"] or None, autocommit=True) as conn:
        conn.execute(sql)


def postgres_reachable() -> bool:
    try:
        _admin("SELECT 1", os.environ.get("BACKUP_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres"))
    except Exception:
        return False
    return True


class Installation:
    """One platform installation under ROOT/NAME. VENDOR "postgresql" gets a fresh database."""

    def __init__(self, root: Path, name: str, *, vendor: str | None = None, privacy_key: str = "",
                 model: Path | None = None):
        self.name = name
        self.var = root / name  # made by the platform itself, as on a new server
        self.vendor = vendor or ("postgresql" if ON_POSTGRES else "sqlite")
        if self.vendor == "postgresql":
            server = SUITE_URL if ON_POSTGRES else os.environ.get(
                "BACKUP_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres")
            base = _server(server)["NAME"] or "grassroots"
            self.db_name = f"{base}_{name}_{secrets.token_hex(3)}"[:63]
            self._server_url = server
            _admin(f'CREATE DATABASE "{self.db_name}"', server)
            self.url = server.rsplit("/", 1)[0] + "/" + self.db_name
        else:
            self.db_name = None
            self.url = f"sqlite:///{self.var / 'grassroots.sqlite3'}"
        # Keys as an operator keeps them: files outside the snapshot's reach, named by *_FILE.
        self.keys = root / f"{name}-keys"
        self.keys.mkdir(parents=True)
        self.secret_key = secrets.token_urlsafe(50)
        self.privacy_key = privacy_key or "test-privacy-key-" + "k" * 32
        (self.keys / "secret_key").write_text(self.secret_key)
        (self.keys / "privacy_key").write_text(self.privacy_key)
        self.model = model

    @property
    def sqlite_file(self) -> Path:
        return self.var / "grassroots.sqlite3"

    @property
    def media(self) -> Path:
        return self.var / "media"

    def env(self, **extra) -> dict:
        env = {k: v for k, v in os.environ.items()
               if k not in OWN and not k.startswith(KEYS) and k != "DJANGO_SETTINGS_MODULE"}
        env.update(
            DATABASE_URL=self.url, GRASSROOTS_VAR_DIR=str(self.var), DEBUG="0", STATIC_MANIFEST="0",
            SECURE_COOKIES="0", ALLOWED_HOSTS="127.0.0.1,localhost",
            SECRET_KEY_FILE=str(self.keys / "secret_key"), PRIVACY_KEY_FILE=str(self.keys / "privacy_key"),
            PYTHONPATH=str(REPO),
        )
        if self.model:
            env["CLASSIFIER_MODEL_PATH"] = str(self.model)
        env.update(extra)
        return env

    def run(self, *args, check: bool = True, timeout: int = 900, **extra) -> subprocess.CompletedProcess:
        done = subprocess.run([GRASSROOTS, *map(str, args)], env=self.env(**extra), cwd=self.var.parent,
                              capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"grassroots {' '.join(map(str, args))} → {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def shell(self, code: str, **kw) -> subprocess.CompletedProcess:
        return self.run("shell", "--no-imports", "-c", code, **kw)

    def popen(self, *args, **kw) -> subprocess.Popen:
        return subprocess.Popen([GRASSROOTS, *map(str, args)], env=self.env(), cwd=self.var.parent, **kw)

    def describe(self, pages: bool = True) -> dict:
        out = self.shell(f"from tests.backup_helpers import describe; describe(pages={pages})").stdout
        return json.loads(out)

    def tables(self) -> list[str]:
        """The tables of this installation's database, read without the platform."""
        if self.vendor == "sqlite":
            if not self.sqlite_file.exists():
                return []
            import sqlite3

            with sqlite3.connect(f"file:{self.sqlite_file}?mode=ro", uri=True) as conn:
                return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        import psycopg

        db = _server(self.url)
        with psycopg.connect(dbname=self.db_name, user=db["USER"], password=db["PASSWORD"] or None,
                             host=db["HOST"] or None, port=db["PORT"] or None) as conn:
            return [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]

    def drop(self) -> None:
        if self.db_name:
            _admin(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)', self._server_url)


def loose_modes(root: Path) -> list[str]:
    """Every file and folder under ROOT that its group or others may read, write or enter."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode & 0o777
        if mode & 0o077:
            found.append(f"{path.relative_to(root.parent)} {mode:o}")
    return found
