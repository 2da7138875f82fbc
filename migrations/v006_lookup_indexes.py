"""Indexes for lookups that read whole tables once they are large.

account.email: every mail enqueued asks whether its address is an account's. outbox_message (status, id): the
delivery loop's oldest pending or stale mail. hit.at: forgetting the hits no window can see any more.
notice (resolved_at, detected_at): every page asks for the unresolved notices.
"""

from __future__ import annotations

from playhouse.migrate import migrate


def upgrade(migrator, database):
    migrate(
        migrator.add_index("account", ("email",), False),
        migrator.add_index("outbox_message", ("status", "id"), False),
        migrator.add_index("hit", ("at",), False),
        migrator.add_index("notice", ("resolved_at", "detected_at"), False),
    )
