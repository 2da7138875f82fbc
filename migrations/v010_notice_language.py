"""Notices record the language they are written in, so a page in the other language marks them (`lang`) and a
screen reader reads them with the right voice. Notices from before stay unmarked: their language is not known."""

from __future__ import annotations

from peewee import CharField
from playhouse.migrate import migrate


def upgrade(migrator, database):
    migrate(migrator.add_column("notice", "language", CharField(max_length=2, null=True)))
