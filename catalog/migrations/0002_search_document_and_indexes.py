"""Product search: a stored full-text document, a vocabulary for typos, GIN indexes.

PostgreSQL only for the indexes and the trigger (SQLite searches plainly):
- `search_document` is a generated column (name weight A, description weight B, English),
  with a GIN index;
- `catalog_searchterm` holds every word of product names, kept by a statement-level trigger,
  with a trigram GIN index (pg_trgm) to find the word a misspelt search word meant;
- a trigram GIN index on the product name serves "close matches" when nothing is found.
"""

import django.contrib.postgres.search
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

import catalog.models


def _indexes():
    return [
        ("Product", GinIndex(fields=["search_document"], name="catalog_product_search_fts")),
        (
            "Product",
            GinIndex(OpClass("name", name="gin_trgm_ops"), name="catalog_product_name_trgm"),
        ),
        (
            "SearchTerm",
            GinIndex(OpClass("word", name="gin_trgm_ops"), name="catalog_searchterm_word_trgm"),
        ),
    ]


# Words of 3 to 64 letters, lower-cased, from the names of the inserted or updated rows.
WORDS_FROM_NEW_ROWS = """
    INSERT INTO catalog_searchterm (word)
    SELECT DISTINCT w FROM new_rows,
        regexp_split_to_table(lower(new_rows.name), '[^[:alpha:]]+') AS w
    WHERE length(w) BETWEEN 3 AND 64
    ON CONFLICT (word) DO NOTHING;
"""

TRIGGER_SQL = f"""
CREATE FUNCTION catalog_product_search_terms() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {WORDS_FROM_NEW_ROWS}
    RETURN NULL;
END $$;
CREATE TRIGGER catalog_product_search_terms_insert AFTER INSERT ON catalog_product
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION catalog_product_search_terms();
CREATE TRIGGER catalog_product_search_terms_update AFTER UPDATE ON catalog_product
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION catalog_product_search_terms();
WITH new_rows AS (SELECT name FROM catalog_product) {WORDS_FROM_NEW_ROWS}
"""

DROP_TRIGGER_SQL = """
DROP TRIGGER IF EXISTS catalog_product_search_terms_insert ON catalog_product;
DROP TRIGGER IF EXISTS catalog_product_search_terms_update ON catalog_product;
DROP FUNCTION IF EXISTS catalog_product_search_terms();
"""


def add_search_support(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for model, index in _indexes():
        schema_editor.add_index(apps.get_model("catalog", model), index)
    schema_editor.execute(TRIGGER_SQL)


def remove_search_support(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(DROP_TRIGGER_SQL)
    for model, index in _indexes():
        schema_editor.remove_index(apps.get_model("catalog", model), index)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [
        TrigramExtension(),  # CREATE EXTENSION IF NOT EXISTS pg_trgm; skipped on SQLite
        migrations.AddField(
            model_name="product",
            name="search_document",
            field=models.GeneratedField(
                db_persist=True,
                expression=catalog.models.ProductSearchDocument(),
                output_field=django.contrib.postgres.search.SearchVectorField(null=True),
            ),
        ),
        migrations.CreateModel(
            name="SearchTerm",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("word", models.CharField(max_length=64, unique=True)),
            ],
        ),
        migrations.RunPython(add_search_support, remove_search_support),
    ]
