"""Product search that forgives: full-text with ranking, and typos corrected by trigrams.

On PostgreSQL each word is matched by full-text search (English stemming, words in any order)
on the stored `search_document`; a word is also widened to the vocabulary words that look like
it (`SearchTerm`, trigram similarity), so "kenia" finds Kenya. Both lookups use GIN indexes and
matches are ordered by `ts_rank`. A broad word can match a large share of the catalogue, so
only the first CATALOG_COUNT_LIMIT (+1) matches are ranked: the product list never counts or
pages past that cap either, and the cost of a search no longer grows with the catalogue.

On SQLite (zero set-up runs) every word must appear in the name, SKU or description, in any
order.
"""

from functools import reduce

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import F, Q, QuerySet, Subquery

from .models import Category, Product

SEARCH_CONFIG = "english"
MAX_TERMS = 8
# How many look-alike vocabulary words widen one search word, and how alike they must be
# (pg_trgm similarity: "kenia"/"kenya" 0.33, "expresso"/"espresso" 0.5).
CORRECTIONS_PER_TERM = 3
MIN_SIMILARITY = 0.3

_CORRECTIONS_SQL = """
    SELECT t.term, s.word
    FROM unnest(%s::text[]) AS t(term)
    CROSS JOIN LATERAL (
        SELECT word FROM catalog_searchterm
        WHERE word %% t.term AND similarity(word, t.term) >= %s
        ORDER BY similarity(word, t.term) DESC, word
        LIMIT %s
    ) AS s
"""


def _terms(text: str) -> list[str]:
    return [term for term in text.split() if term][:MAX_TERMS]


def uses_postgres() -> bool:
    return connection.vendor == "postgresql"


def search_term_corrections(terms: list[str]) -> dict[str, list[str]]:
    """Return, for each search word, the vocabulary words that look like it (one query)."""
    words = [term.lower() for term in terms if len(term) >= 3 and term.isalpha()]
    if not words:
        return {}
    found: dict[str, list[str]] = {}
    with connection.cursor() as cursor:
        cursor.execute(_CORRECTIONS_SQL, [words, MIN_SIMILARITY, CORRECTIONS_PER_TERM])
        for term, word in cursor.fetchall():
            if word != term:
                found.setdefault(term, []).append(word)
    return found


def _word_query(term: str, corrections: dict[str, list[str]]) -> SearchQuery:
    alternatives = [term, *corrections.get(term.lower(), ())]
    return reduce(
        lambda left, right: left | right,
        (SearchQuery(word, config=SEARCH_CONFIG, search_type="plain") for word in alternatives),
    )


def product_search(queryset: QuerySet[Product], text: str) -> QuerySet[Product]:
    """Filter the products to those matching `text`; best first (`search_rank` on PostgreSQL)."""
    terms = _terms(text)
    if not terms:
        return queryset
    if not uses_postgres():
        return _product_search_plain(queryset, terms)
    corrections = search_term_corrections(terms)
    query = reduce(lambda left, right: left & right, (_word_query(t, corrections) for t in terms))
    text = " ".join(terms)
    matches = queryset.filter(Q(search_document=query) | Q(sku__in={text, text.upper()}))
    # Rank at most RANKED_MATCHES + 1 of them (the paginator's cap, plus one so it can tell
    # there are more): the work stays bounded however broad the word or large the catalogue.
    candidates = matches.order_by().values("pk")[: _ranked_matches() + 1]
    return (
        queryset.filter(pk__in=Subquery(candidates))
        .annotate(search_rank=SearchRank(F("search_document"), query))
        .order_by("-search_rank", "name", "id")
    )


def _ranked_matches() -> int:
    return getattr(settings, "CATALOG_COUNT_LIMIT", 1000)


def _product_search_plain(queryset: QuerySet[Product], terms: list[str]) -> QuerySet[Product]:
    text = " ".join(terms)
    every_word = Q()
    for term in terms:
        every_word &= (
            Q(name__icontains=term) | Q(description__icontains=term) | Q(sku__icontains=term)
        )
    return queryset.filter(Q(sku__iexact=text) | every_word)


def product_search_suggestions(
    queryset: QuerySet[Product], text: str, *, limit: int = 6
) -> list[Product]:
    """Return products whose names come close to `text`, for a search that found nothing."""
    terms = _terms(text)
    if not terms:
        return []
    if not uses_postgres():
        return list(queryset.filter(name__icontains=terms[0][:4]).order_by("name", "id")[:limit])
    text = " ".join(terms)
    return list(queryset.filter(name__trigram_similar=text).order_by("name", "id")[:limit])


def category_search_suggestions(text: str, *, limit: int = 6) -> list[Category]:
    """Return categories to browse instead: those named like the search, else the top ones."""
    condition = Q()
    for term in _terms(text):
        condition |= Q(name__icontains=term[:5])
    categories = []
    if condition:
        categories = list(Category.objects.filter(condition).order_by("position", "name")[:limit])
    if not categories:
        categories = list(
            Category.objects.filter(parent__isnull=True).order_by("position", "name")[:limit]
        )
    return categories
