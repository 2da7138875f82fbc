"""Erase the sealed bodies that mail sent (or given up on) by an earlier release still holds: they hold codes.

From this release on a message's body is erased when it is sent; this step does it once for what was sent before.
No schema change.
"""

from __future__ import annotations


def upgrade(migrator, database):
    database.execute_sql(
        "UPDATE outbox_message SET sealed_body = NULL WHERE status IN ('sent', 'failed') AND sealed_body IS NOT NULL"
    )
