"""An index for the desk's pending registrations (of one office), newest first, among a million active accounts."""

from __future__ import annotations

from playhouse.migrate import migrate


def upgrade(migrator, database):
    migrate(migrator.add_index("account", ("status", "office", "created_at"), False))
