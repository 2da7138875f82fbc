"""v003: one-time codes get a per-row salt next to their keyed hash (ASVS 6.5.2).

Rows from before keep a NULL salt and are still checked the unsalted way, so codes already mailed work.
"""

from peewee import CharField
from playhouse.migrate import migrate


def upgrade(migrator, database):
    migrate(migrator.add_column("one_time_code", "code_salt", CharField(max_length=32, null=True)))
