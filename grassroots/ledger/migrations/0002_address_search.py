"""Address-fragment search: a trigram index on ledger_address.text.

PostgreSQL: the pg_trgm and btree_gin extensions and a GIN index on (region_path, text)
(answers LIKE '%…%' within a path range).
SQLite: an external-content FTS5 table with the trigram tokenizer, kept in step by triggers.
"""

from django.db import migrations

SQLITE_UP = [
    "CREATE VIRTUAL TABLE ledger_address_fts USING fts5(text, content='ledger_address', content_rowid='id', "
    "tokenize='trigram')",
    "CREATE TRIGGER ledger_address_ai AFTER INSERT ON ledger_address BEGIN "
    "INSERT INTO ledger_address_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER ledger_address_ad AFTER DELETE ON ledger_address BEGIN "
    "INSERT INTO ledger_address_fts(ledger_address_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER ledger_address_au AFTER UPDATE OF text ON ledger_address BEGIN "
    "INSERT INTO ledger_address_fts(ledger_address_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO ledger_address_fts(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO ledger_address_fts(ledger_address_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS ledger_address_ai",
    "DROP TRIGGER IF EXISTS ledger_address_ad",
    "DROP TRIGGER IF EXISTS ledger_address_au",
    "DROP TABLE IF EXISTS ledger_address_fts",
]
# One GIN index over (region_path, text): btree_gin lets the scope range and the trigram match be
# answered together, so a street's matches are found without reading the whole city's.
POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE EXTENSION IF NOT EXISTS btree_gin",
    "CREATE INDEX ledger_address_text_trgm ON ledger_address USING gin (region_path, text gin_trgm_ops)",
]
POSTGRES_DOWN = ["DROP INDEX IF EXISTS ledger_address_text_trgm"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        ),
    ]
