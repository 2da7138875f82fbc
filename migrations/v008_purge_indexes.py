"""Indexes for the daily purge, so each of its bounded deletes finds the old rows without reading a whole table.

one_time_code.expires_at: codes that stopped working long ago. outbox_message (status, created_at): old sent or
failed mail. account (status, created_at): registrations left pending. login_session.seen_at: sessions idle past
every timeout.
"""

from __future__ import annotations

from playhouse.migrate import migrate


def upgrade(migrator, database):
    migrate(
        migrator.add_index("one_time_code", ("expires_at",), False),
        migrator.add_index("outbox_message", ("status", "created_at"), False),
        migrator.add_index("account", ("status", "created_at"), False),
        migrator.add_index("login_session", ("seen_at",), False),
    )
