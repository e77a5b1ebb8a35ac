"""Database details of bulk work (the generator step and workbook imports)."""

from django.db import connection


def size_cache_for_bulk() -> None:
    """SQLite keeps 2 MB of pages per connection by default; the keyed-hash indexes take random
    inserts, so a million rows would thrash it. Give this connection 256 MB (PostgreSQL sizes
    its own shared buffers)."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size = -262144")
