"""The schema as released at commit b8083a0, frozen here so later model changes never alter it."""

from __future__ import annotations

from peewee import (
    SQL,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


class _Frozen(Model):
    class Meta:
        legacy_table_names = False


class Office(_Frozen):
    code = CharField(max_length=32, unique=True)
    kind = CharField(max_length=32)
    name = CharField(max_length=200)
    place = CharField(max_length=200)
    country = CharField(max_length=100, default="Magyarország")


class Account(_Frozen):
    username = CharField(max_length=64, unique=True)
    display_username = CharField(max_length=64)
    full_name = CharField(max_length=200)
    email = CharField(max_length=254, null=True)
    role = CharField(max_length=16, default="citizen")
    status = CharField(max_length=16, default="pending")
    password_hash = CharField(max_length=255, null=True)
    session_version = IntegerField(default=1)
    language = CharField(max_length=2, default="hu")
    office = CharField(max_length=32, null=True)
    channel = CharField(max_length=16, default="online")
    created_at = DateTimeField()
    activated_at = DateTimeField(null=True)
    email_change_nonce = CharField(max_length=32, null=True)


class OneTimeCode(_Frozen):
    account = ForeignKeyField(Account, backref="codes", on_delete="CASCADE")
    code_hash = CharField(max_length=64)
    purpose = CharField(max_length=16)
    created_at = DateTimeField()
    expires_at = DateTimeField()
    failed_attempts = IntegerField(default=0)
    used_at = DateTimeField(null=True)
    voided_at = DateTimeField(null=True)
    void_reason = CharField(max_length=16, null=True)

    class Meta:
        indexes = ((("account", "created_at"), False),)


class OutboxMessage(_Frozen):
    kind = CharField(max_length=32)
    recipient = CharField(max_length=254)
    subject = CharField(max_length=255)
    sealed_body = TextField(null=True)
    account = ForeignKeyField(Account, null=True, backref="mail", on_delete="SET NULL")
    created_at = DateTimeField()
    status = CharField(max_length=16, default="pending")
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField()
    claimed_at = DateTimeField(null=True)
    sent_at = DateTimeField(null=True)
    last_error = CharField(max_length=255, null=True)
    message_id = CharField(max_length=255)

    class Meta:
        indexes = ((("status", "next_attempt_at"), False),)


class AuditEvent(_Frozen):
    at = DateTimeField()
    kind = CharField(max_length=32)
    outcome = CharField(max_length=32)
    account = ForeignKeyField(Account, null=True, backref="audit", on_delete="SET NULL")
    username = CharField(max_length=64, null=True)
    client_address = CharField(max_length=64, null=True)
    actor = CharField(max_length=64, null=True)
    detail = CharField(max_length=255, null=True)

    class Meta:
        indexes = ((("kind", "at"), False),)


class Hit(_Frozen):
    key = CharField(max_length=160)
    at = DateTimeField()

    class Meta:
        indexes = ((("key", "at"), False),)


class Notice(_Frozen):
    service = CharField(max_length=200)
    title = CharField(max_length=200)
    body = TextField()
    still_works = TextField(default="")
    contact = CharField(max_length=200, default="")
    severity = CharField(max_length=16, default="disruption")
    detected_at = DateTimeField()
    until = DateTimeField(null=True)
    resolved_at = DateTimeField(null=True)
    created_at = DateTimeField()
    updated_at = DateTimeField()


class Article(_Frozen):
    slug = CharField(max_length=80, unique=True)
    parent = ForeignKeyField("self", null=True, backref="children", on_delete="SET NULL")
    title_hu = CharField(max_length=200)
    title_en = CharField(max_length=200)
    body_hu = TextField()
    body_en = TextField()
    source = CharField(max_length=200, default="Kapu")
    created_at = DateTimeField()
    modified_at = DateTimeField()


class SchemaVersion(_Frozen):
    version = IntegerField()
    applied_at = DateTimeField(constraints=[SQL("DEFAULT CURRENT_TIMESTAMP")])


TABLES = [Office, Account, OneTimeCode, OutboxMessage, AuditEvent, Hit, Notice, Article, SchemaVersion]


def upgrade(migrator, database):
    """Create every table of the first released schema (the runner has made schema_version already)."""
    with database.bind_ctx(TABLES):
        database.create_tables(TABLES, safe=True)
