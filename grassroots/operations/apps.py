from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OperationsConfig(AppConfig):
    name = "grassroots.operations"
    verbose_name = "运维"

    def ready(self):
        post_migrate.connect(tighten_files, sender=self, dispatch_uid="operations.tighten_files")


def tighten_files(**kwargs) -> None:
    """After `migrate`: the SQLite files, var/ and the media folder owner-only, also where an
    earlier version created them readable by everyone (0644)."""
    from django.conf import settings
    from django.db import connections

    from grassroots.lib.files import make_private, sqlite_files

    db = connections[kwargs.get("using") or "default"]
    if db.vendor == "sqlite" and db.settings_dict["NAME"] not in ("", ":memory:") \
            and not str(db.settings_dict["NAME"]).startswith("file:"):
        for path in sqlite_files(db.settings_dict["NAME"]):
            make_private(path)
    for folder in (settings.VAR_DIR, settings.MEDIA_ROOT):
        make_private(folder)
