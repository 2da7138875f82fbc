"""Deployment-wide moments shared by every worker and server: the delivery heartbeat, the last purge."""

from __future__ import annotations

from datetime import datetime

from peewee import CharField, DateTimeField, Model


class OpsState(Model):
    name = CharField(max_length=32, primary_key=True)
    at = DateTimeField()

    class Meta:
        table_name = "ops_state"


def upgrade(migrator, database):
    with database.bind_ctx([OpsState]):
        database.create_tables([OpsState])
        never = datetime(1970, 1, 1)
        # Present from the start, so every later write is a conditional UPDATE (no insert race between servers).
        OpsState.insert_many([{"name": "delivery", "at": never}, {"name": "purge", "at": never}]).execute()
