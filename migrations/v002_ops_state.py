"""Deployment-wide moments shared by every worker and server (the delivery heartbeat, the last purge); an index
on audit_event.at so the daily purge finds old events without scanning the table."""

from __future__ import annotations

from datetime import datetime

from peewee import CharField, DateTimeField, Model
from playhouse.migrate import migrate


class OpsState(Model):
    name = CharField(max_length=32, primary_key=True)
    at = DateTimeField()

    class Meta:
        table_name = "ops_state"


def upgrade(migrator, database):
    migrate(migrator.add_index("audit_event", ("at",), False))
    with database.bind_ctx([OpsState]):
        database.create_tables([OpsState])
        never = datetime(1970, 1, 1)
        # Present from the start, so every later write is a conditional UPDATE (no insert race between servers).
        OpsState.insert_many([{"name": "delivery", "at": never}, {"name": "purge", "at": never}]).execute()
