"""SQLite details of bulk work (the generator's steps, workbook imports)."""

from contextlib import contextmanager

from django.db import connection


@contextmanager
def bulk_page_cache(kib: int):
    """Give this SQLite connection KIB of page cache while a bulk write runs, then restore it.

    Bulk writes update several indexes at random places; with the connection's usual cache they
    spend most of their time re-reading pages. PostgreSQL sizes its own shared buffers: nothing
    to do there."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = -{int(kib)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")
