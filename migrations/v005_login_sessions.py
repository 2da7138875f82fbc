"""Server-side login sessions: the cookie holds only a random id, this table holds its hash."""

from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, Model


class _Frozen(Model):
    class Meta:
        legacy_table_names = False


class Account(_Frozen):
    """Only what the foreign key needs of the account table (v001 made it)."""


class LoginSession(_Frozen):
    token_hash = CharField(max_length=64, unique=True)
    account = ForeignKeyField(Account, backref="sessions", on_delete="CASCADE")
    session_version = IntegerField()
    created_at = DateTimeField()
    seen_at = DateTimeField()


def upgrade(migrator, database):
    with database.bind_ctx([Account, LoginSession]):
        database.create_tables([LoginSession], safe=True)
