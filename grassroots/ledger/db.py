"""Database details of the ledger's bulk work (the generator step and workbook imports)."""

# SQLite page cache while persons are written (lib.sqlite.bulk_page_cache): the keyed-hash
# indexes take random inserts, so a million rows would thrash the connection's usual cache.
BULK_CACHE_KIB = 262_144  # 256 MB
