"""Owner-only files: what the platform writes under var/ (the database, uploads, the classifier
model, the law index, backups) holds personal data or is only the platform's business, so it
is created readable by its owner alone (个人信息保护法: keep personal data from whoever does
not need it, including other accounts on the same server).

Two layers:
  * the processes start with umask 077 (`grassroots` entry point, wsgi), so whatever they
    create is 0600 / 0700 unless a library forces a mode;
  * where a file is made by a library or by a process that does not start through those
    (scripts/bootstrap.sh builds the law index), the code that asks for the file chmods it.
"""

import os
import secrets
from pathlib import Path

PRIVATE_UMASK = 0o077
FILE_MODE = 0o600
DIR_MODE = 0o700


def private_umask() -> int:
    """Make every file this process creates from now on owner-only; returns the old umask."""
    return os.umask(PRIVATE_UMASK)


def make_private(path: str | os.PathLike) -> None:
    """chmod PATH to 0600 (a file) or 0700 (a folder); nothing when it does not exist or is
    not ours to change (another account's file is left as it is)."""
    try:
        mode = DIR_MODE if Path(path).is_dir() else FILE_MODE
        os.chmod(path, mode)
    except (FileNotFoundError, PermissionError):
        pass


def private_dir(path: str | os.PathLike) -> Path:
    """PATH, made owner-only (with its missing parents) when absent. A folder that exists keeps
    its mode: it may be the operator's (`grassroots backup --output /srv/backups`)."""
    path = Path(path)
    missing = [p for p in [path, *path.parents] if not p.is_dir()]
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        make_private(folder)  # mkdir's mode passes through the umask
    return path


def write_private(path: str | os.PathLike, data: bytes) -> Path:
    """Write DATA to a new or replaced file PATH that only its owner can read."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    make_private(path)  # an existing file keeps its mode through O_TRUNC
    return path


def keep_for(user, folder: str | os.PathLike, data: bytes, suffix: str = ".xlsx") -> str:
    """Keep DATA as an owner-only file in FOLDER that only USER may fetch back (an import's error
    workbook, its temporary passwords); returns the token that names it in a download link."""
    token = f"{user.pk}-{secrets.token_hex(12)}"
    write_private(private_dir(folder) / f"{token}{suffix}", data)
    return token


def kept_for(user, folder: str | os.PathLike, token: str, suffix: str = ".xlsx") -> Path | None:
    """The file `keep_for` kept for USER under TOKEN; None when the token is malformed, names another
    account's file, or the file is gone."""
    owner, _, rest = token.partition("-")
    path = Path(folder) / f"{token}{suffix}"
    if owner != str(user.pk) or not rest.isalnum() or not path.exists():
        return None
    return path


def sqlite_files(name: str | os.PathLike) -> list[Path]:
    """A SQLite database file and its -wal / -shm / -journal companions."""
    base = Path(name)
    return [base] + [base.with_name(base.name + suffix) for suffix in ("-wal", "-shm", "-journal")]
