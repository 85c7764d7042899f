"""Full-text search for the knowledge base, per database (see support/kb.py).

PostgreSQL: generated tsvector columns (whole article, title) with GIN indexes, and a trigram GIN
index on the title.
SQLite: an FTS5 table over the articles, kept in step by triggers. SQLite rebuilds a table when a
migration alters it, which drops its triggers: a later migration that alters support_article must
run this one's SQLite statements again (tests/support/test_kb.py fails if search falls behind).
"""

from django.db import migrations

POSTGRESQL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """ALTER TABLE support_article ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') ||
        setweight(to_tsvector('english'::regconfig, coalesce(summary, '')), 'B') ||
        setweight(to_tsvector('english'::regconfig, coalesce(body, '')), 'C')
    ) STORED""",
    "CREATE INDEX article_search_idx ON support_article USING gin (search_vector)",
    """ALTER TABLE support_article ADD COLUMN title_vector tsvector GENERATED ALWAYS AS (
        to_tsvector('english'::regconfig, coalesce(title, ''))
    ) STORED""",
    "CREATE INDEX article_title_search_idx ON support_article USING gin (title_vector)",
    "CREATE INDEX article_title_trgm_idx ON support_article USING gin (title gin_trgm_ops)",
]
POSTGRESQL_REVERSE = [
    "DROP INDEX IF EXISTS article_title_trgm_idx",
    "DROP INDEX IF EXISTS article_title_search_idx",
    "ALTER TABLE support_article DROP COLUMN IF EXISTS title_vector",
    "DROP INDEX IF EXISTS article_search_idx",
    "ALTER TABLE support_article DROP COLUMN IF EXISTS search_vector",
]

SQLITE = [
    """CREATE VIRTUAL TABLE support_article_fts USING fts5(
        title, summary, body, content='support_article', content_rowid='id', tokenize='porter unicode61'
    )""",
    """CREATE TRIGGER support_article_fts_insert AFTER INSERT ON support_article BEGIN
        INSERT INTO support_article_fts(rowid, title, summary, body) VALUES (new.id, new.title, new.summary, new.body);
    END""",
    """CREATE TRIGGER support_article_fts_delete AFTER DELETE ON support_article BEGIN
        INSERT INTO support_article_fts(support_article_fts, rowid, title, summary, body)
        VALUES ('delete', old.id, old.title, old.summary, old.body);
    END""",
    """CREATE TRIGGER support_article_fts_update AFTER UPDATE ON support_article BEGIN
        INSERT INTO support_article_fts(support_article_fts, rowid, title, summary, body)
        VALUES ('delete', old.id, old.title, old.summary, old.body);
        INSERT INTO support_article_fts(rowid, title, summary, body) VALUES (new.id, new.title, new.summary, new.body);
    END""",
    "INSERT INTO support_article_fts(support_article_fts) VALUES ('rebuild')",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS support_article_fts_update",
    "DROP TRIGGER IF EXISTS support_article_fts_delete",
    "DROP TRIGGER IF EXISTS support_article_fts_insert",
    "DROP TABLE IF EXISTS support_article_fts",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("support", "0005_knowledge_base_csat_reviews")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE}),
        )
    ]
