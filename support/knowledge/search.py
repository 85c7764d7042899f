"""Knowledge base search: full-text ranking on PostgreSQL, FTS5 on SQLite, one result shape.

PostgreSQL: `support_article.search_vector` is a generated tsvector column (title weight A,
summary B, body C) and `title_vector` one of the title alone, both with GIN indexes, and `title`
has a trigram GIN index (pg_trgm) for typos.
SQLite: `support_article_fts` is an FTS5 table kept in step with the articles by triggers.
Both are created by migration 0006, outside the ORM: Django has no portable field for either.

Ranking runs in passes so a query stays cheap however large the knowledge base grows: articles
containing every typed word (the last one as a prefix: the partner is still typing) come first,
on PostgreSQL those with every word in the title before those with them anywhere; only when they
are too few does a last pass accept any of the words and, on PostgreSQL, titles with a word close
to a typed one (typos).
"""

import re
from dataclasses import dataclass

from django.db import connection, transaction

from support.models import Article

MAX_TERMS = 8
TYPO_THRESHOLD = 0.5
CANDIDATES = 200  # rows ranked per pass at most (PostgreSQL)
MIN_QUERY = 3  # characters: below this there is nothing to suggest yet
WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Match:
    article: Article
    score: float  # 0..1, higher is better


def terms(text: str) -> list[str]:
    """Return the words of `text` worth searching for: lowercase, at most MAX_TERMS."""
    return [word.lower() for word in WORD.findall(text)][:MAX_TERMS]


def search(text: str, *, user, limit: int = 3) -> list[Match]:
    """Return the best `limit` published articles for `text` that `user` may read, best first."""
    text = text.replace("\x00", " ")  # PostgreSQL text cannot hold NUL: it is no part of a word anyway
    words = terms(text)
    if len("".join(words)) < MIN_QUERY:
        return []
    backend = _search_postgresql if connection.vendor == "postgresql" else _search_sqlite
    ranked = backend(text.strip()[:200], words, Article.audiences_for(user), limit)
    articles = Article.objects.select_related("category").in_bulk([pk for pk, _ in ranked])
    matches = [Match(articles[pk], round(score, 2)) for pk, score in ranked if pk in articles]
    if connection.vendor != "postgresql":
        # bm25 orders well but its size depends on the corpus: SQLite shows the word coverage.
        matches = [
            Match(
                m.article,
                round(coverage_score(words, title=m.article.title, summary=m.article.summary, body=m.article.body), 2),
            )
            for m in matches
        ]
    return matches


# --- PostgreSQL -----------------------------------------------------------------------------------

# A title match (weight A) ranks about 0.6, a body-only match about 0.1: rank / (rank + 0.1)
# spreads them over 0..1 the way a reader expects a "score" to read.
# The title pass ranks on the title's own small vector (weights all 1: it is unweighted), so it
# never reads the articles' bodies.
_PG_SCORE = "GREATEST({rank} / ({rank} + 0.1), {fuzzy})"
_RANK_ALL = "ts_rank(search_vector, query)"
_RANK_TITLE = "ts_rank('{1, 1, 1, 1}', title_vector, query)"

# Ranking reads every candidate's tsvector, so each pass ranks at most CANDIDATES matching rows:
# a word found in thousands of articles costs the same as a rare one. The passes run from the
# narrowest (every word in the title) to the widest, so the best matches are in the first one.
_PG_SQL = """
SELECT id, {score} AS score FROM (
    SELECT a.id, a.title, {vector}, q.query
    FROM support_article a, (SELECT to_tsquery('english', %(tsquery)s) AS query) q
    WHERE a.published AND a.audience = ANY(%(audiences)s) AND ({match})
    LIMIT %(candidates)s
) AS candidates
ORDER BY score DESC, id
LIMIT %(limit)s
"""


def _search_postgresql(text: str, words: list[str], audiences: list[str], limit: int) -> list[tuple[int, float]]:
    params = {"audiences": audiences, "limit": limit, "text": text, "candidates": CANDIDATES}
    every, any_ = {"tsquery": _tsquery(words, " & ")}, {"tsquery": _tsquery(words, " | ")}
    # Typos: a typed word of four letters or more close to a word of the title (pg_trgm's word
    # similarity above TYPO_THRESHOLD, served by the trigram index) also matches in the last pass.
    typed = {f"w{i}": word for i, word in enumerate(w for w in words if len(w) >= 4)}
    passes = [
        (every, "a.title_vector @@ q.query", _RANK_TITLE, "0"),
        (every, "a.search_vector @@ q.query", _RANK_ALL, "0"),
        (
            any_ | typed,
            " OR ".join(["a.search_vector @@ q.query", *(f"%({key})s <%% a.title" for key in typed)]),
            _RANK_ALL,
            "word_similarity(%(text)s, title)",
        ),
    ]
    found: list[tuple[int, float]] = []
    for extra, match, rank, fuzzy in passes:
        seen = {pk for pk, _ in found}
        ranked = _pg_run(params | extra, match, rank, fuzzy, typos=bool(typed) and fuzzy != "0")
        found += [(pk, score) for pk, score in ranked if pk not in seen][: limit - len(found)]
        if len(found) >= limit:
            break
    return found


def _pg_run(params, match, rank, fuzzy, *, typos=False):
    vector = "a.title_vector" if rank == _RANK_TITLE else "a.search_vector"
    sql = _PG_SQL.format(score=_PG_SCORE.format(rank=rank, fuzzy=fuzzy), match=match, vector=vector)
    if not typos:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [(pk, float(score)) for pk, score in cursor.fetchall()]
    with transaction.atomic(), connection.cursor() as cursor:
        # One wrong letter in a seven-letter word scores about 0.55; pg_trgm's default 0.6 misses it.
        cursor.execute("SET LOCAL pg_trgm.word_similarity_threshold = %s", [TYPO_THRESHOLD])
        cursor.execute(sql, params)
        return [(pk, float(score)) for pk, score in cursor.fetchall()]


def _tsquery(words: list[str], operator: str) -> str:
    # Words are \w+ only, so nothing in them is tsquery syntax; the last one is a prefix.
    quoted = [f"'{word}'" for word in words]
    quoted[-1] += ":*"
    return operator.join(quoted)


# --- SQLite ---------------------------------------------------------------------------------------

_SQLITE_SQL = """
SELECT a.id, -bm25(support_article_fts, 10.0, 4.0, 1.0) AS rank
FROM support_article_fts f JOIN support_article a ON a.id = f.rowid
WHERE support_article_fts MATCH %s AND a.published AND a.audience IN ({audiences})
ORDER BY rank DESC, a.id
LIMIT %s
"""


def _search_sqlite(text: str, words: list[str], audiences: list[str], limit: int) -> list[tuple[int, float]]:
    found: list[tuple[int, float]] = []
    for query in (_fts_query(words, " AND ", column="title"), _fts_query(words, " AND "), _fts_query(words, " OR ")):
        seen = {pk for pk, _ in found}
        ranked = _sqlite_run(query, audiences, limit + len(found))
        found += [(pk, score) for pk, score in ranked if pk not in seen][: limit - len(found)]
        if len(found) >= limit:
            break
    return found


def _sqlite_run(query, audiences, limit):
    sql = _SQLITE_SQL.format(audiences=", ".join(["%s"] * len(audiences)))
    with connection.cursor() as cursor:
        cursor.execute(sql, [query, *audiences, limit])
        return [(pk, 0.0) for pk, _ in cursor.fetchall()]


def coverage_score(words: list[str], *, title: str, summary: str, body: str) -> float:
    """Return how well an article covers the typed words: per word 1 in the title, 0.7 in the
    summary, 0.4 in the body, 0 when absent (a word counts when an article word starts with it)."""

    def has(field: str, word: str) -> bool:
        return any(token.startswith(word) for token in terms_all(field))

    weights = [1.0 if has(title, w) else 0.7 if has(summary, w) else 0.4 if has(body, w) else 0.0 for w in words]
    return sum(weights) / len(weights) if weights else 0.0


def terms_all(text: str) -> set[str]:
    return {word.lower() for word in WORD.findall(text)}


def _fts_query(words: list[str], operator: str, column: str = "") -> str:
    prefix = f"{column} : " if column else ""
    quoted = [f'{prefix}"{word}"' for word in words]
    quoted[-1] += "*"
    return operator.join(quoted)
