"""Help articles get an English source line, so an English page says where the article comes from in English."""

from __future__ import annotations

from peewee import CharField
from playhouse.migrate import migrate

# The shipped article whose source line was written in Hungarian only (content/help/articles.json).
SHIPPED = [("activation", "Kapu, a Magyarország.hu súgója alapján", "Kapu, based on the help pages of magyarorszag.hu")]


def upgrade(migrator, database):
    migrate(migrator.add_column("article", "source_en", CharField(max_length=200, default="")))
    param = database.param
    for slug, source, source_en in SHIPPED:
        # Only where the editors kept the shipped wording: an edited source line is theirs to translate.
        database.execute_sql(
            f"UPDATE article SET source_en = {param} WHERE slug = {param} AND source = {param}",  # noqa: S608
            (source_en, slug, source),
        )
