"""The `grassroots` console command: Django's manage.py under the platform's own name."""

import os
import sys


def main() -> None:
    from grassroots.lib.files import private_umask

    # Owner-only from creation: the SQLite database and its -wal/-shm, uploads, the model,
    # backups (lib/files.py). Static files are public by nature and may be served by another
    # account (nginx): collectstatic keeps the usual umask.
    if sys.argv[1:2] != ["collectstatic"]:
        private_umask()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grassroots.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["grassroots", *sys.argv[1:]])


if __name__ == "__main__":
    main()
