"""Peewee models on one database chosen by URL at start; queries live here as classmethods."""

from __future__ import annotations

from peewee import (
    SQL,
    CharField,
    DatabaseProxy,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

import migrations
from db import open_database  # noqa: F401 - where tools and tests have opened a database by URL

database = DatabaseProxy()


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class Office(BaseModel):
    """A registration office: document office, government window, tax authority desk or consulate."""

    code = CharField(max_length=32, unique=True)
    kind = CharField(max_length=32)  # document_office | government_window | tax_authority | consulate
    name = CharField(max_length=200)
    place = CharField(max_length=200)
    country = CharField(max_length=100, default="Magyarország")


class Account(BaseModel):
    """A citizen's identification account (pending until activated), or a staff member's (clerk, admin)."""

    username = CharField(max_length=64, unique=True)  # normalised: NFKC + casefold
    display_username = CharField(max_length=64)
    full_name = CharField(max_length=200)
    email = CharField(max_length=254, null=True, index=True)  # staff accounts have none
    role = CharField(max_length=16, default="citizen")  # citizen | clerk | admin
    status = CharField(max_length=16, default="pending")  # pending | active
    password_hash = CharField(max_length=255, null=True)
    session_version = IntegerField(default=1)
    language = CharField(max_length=2, default="hu")
    office = CharField(max_length=32, null=True)
    channel = CharField(max_length=16, default="online")  # online | office | cli
    created_at = DateTimeField()
    activated_at = DateTimeField(null=True)
    # Changes with every e-mail change request, so only the latest confirmation link works.
    email_change_nonce = CharField(max_length=32, null=True)

    class Meta:
        # The desk's pending registrations (of one office), newest first, among a million active accounts;
        # (status, created_at): the purge's registrations left pending.
        indexes = ((("status", "office", "created_at"), False), (("status", "created_at"), False))

    @classmethod
    def by_username(cls, normalised_username):
        return cls.get_or_none(cls.username == normalised_username)

    @property
    def is_active(self):
        return self.status == "active"

    @property
    def is_staff(self):
        return self.role in ("clerk", "admin")


class OneTimeCode(BaseModel):
    """A one-time code, kept only as a salted keyed hash; void once used, superseded, expired or over-tried."""

    account = ForeignKeyField(Account, backref="codes", on_delete="CASCADE")
    code_hash = CharField(max_length=64)
    code_salt = CharField(max_length=32, null=True)  # null: stored before salts (schema v003) existed
    purpose = CharField(max_length=16)  # activation | reset
    created_at = DateTimeField()
    expires_at = DateTimeField()
    failed_attempts = IntegerField(default=0)
    used_at = DateTimeField(null=True)
    voided_at = DateTimeField(null=True)
    void_reason = CharField(max_length=16, null=True)  # superseded | attempts

    class Meta:
        indexes = ((("account", "created_at"), False), (("expires_at",), False))  # the latter for the purge

    @classmethod
    def for_account(cls, account):
        return cls.select().where(cls.account == account).order_by(cls.created_at.desc(), cls.id.desc())

    @classmethod
    def live_for(cls, account):
        query = cls.for_account(account).where(cls.used_at.is_null(), cls.voided_at.is_null())
        return query.first()


class OutboxMessage(BaseModel):
    """A mail written in the same transaction as its cause; its body is sealed (encrypted) at rest."""

    kind = CharField(max_length=32)
    recipient = CharField(max_length=254)
    subject = CharField(max_length=255)
    sealed_body = TextField(null=True)
    account = ForeignKeyField(Account, null=True, backref="mail", on_delete="SET NULL")
    created_at = DateTimeField()
    status = CharField(max_length=16, default="pending")  # pending | sending | sent
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField()
    claimed_at = DateTimeField(null=True)
    sent_at = DateTimeField(null=True)
    last_error = CharField(max_length=255, null=True)
    message_id = CharField(max_length=255)

    class Meta:
        # (status, id): the oldest pending or stale mail, found without walking past every mail ever sent;
        # (status, created_at): the purge's old sent mail.
        indexes = (
            (("status", "next_attempt_at"), False),
            (("status", "id"), False),
            (("status", "created_at"), False),
        )


class AuditEvent(BaseModel):
    """Who did what, when, from where, with which outcome; never a password or a code."""

    at = DateTimeField()
    kind = CharField(max_length=32)
    outcome = CharField(max_length=32)
    account = ForeignKeyField(Account, null=True, backref="audit", on_delete="SET NULL")
    username = CharField(max_length=64, null=True)
    client_address = CharField(max_length=64, null=True)
    actor = CharField(max_length=64, null=True)
    detail = CharField(max_length=255, null=True)

    class Meta:
        indexes = ((("kind", "at"), False), (("at",), False))


class Hit(BaseModel):
    """One counted attempt under a rate limit (login failure, POST, mail sent), shared by all workers."""

    key = CharField(max_length=160)
    at = DateTimeField()

    class Meta:
        # (at): forgetting hits no window can see any more reads only those.
        indexes = ((("key", "at"), False), (("at",), False))


class Notice(BaseModel):
    """A service-disruption notice: what is affected, what still works, whom to ask, since when."""

    service = CharField(max_length=200)
    title = CharField(max_length=200)
    body = TextField()
    still_works = TextField(default="")
    contact = CharField(max_length=200, default="")
    severity = CharField(max_length=16, default="disruption")  # info | disruption | outage
    language = CharField(max_length=2, null=True)  # hu | en, as written; None for notices from before v010
    detected_at = DateTimeField()
    until = DateTimeField(null=True)  # planned end, if one is known
    resolved_at = DateTimeField(null=True)
    created_at = DateTimeField()
    updated_at = DateTimeField()

    class Meta:
        # Every page asks for the unresolved notices: found among years of resolved ones without reading them.
        indexes = ((("resolved_at", "detected_at"), False),)

    @classmethod
    def active(cls, now):
        return (
            cls.select()
            .where(cls.resolved_at.is_null(), cls.until.is_null() | (cls.until > now))
            .order_by(cls.detected_at.desc())
        )


class Article(BaseModel):
    """A help article in Hungarian and English; its parent chain gives the breadcrumbs."""

    slug = CharField(max_length=80, unique=True)
    parent = ForeignKeyField("self", null=True, backref="children", on_delete="SET NULL")
    title_hu = CharField(max_length=200)
    title_en = CharField(max_length=200)
    body_hu = TextField()
    body_en = TextField()
    source = CharField(max_length=200, default="Kapu")
    source_en = CharField(max_length=200, default="")  # the source line in English; empty: as `source`
    created_at = DateTimeField()
    modified_at = DateTimeField()

    def source_in(self, language):
        return self.source_en if language == "en" and self.source_en else self.source

    def title(self, language):
        return self.title_en if language == "en" else self.title_hu

    def body(self, language):
        return self.body_en if language == "en" else self.body_hu

    def trail(self):
        """The ancestors, root first (a guard stops a cycle an editor might make)."""
        chain, node = [], self.parent
        while node is not None and node not in chain and len(chain) < 10:
            chain.insert(0, node)
            node = node.parent
        return chain


class LoginSession(BaseModel):
    """A login on the server: the cookie holds a random id, this row only its hash (so it can be ended)."""

    token_hash = CharField(max_length=64, unique=True)
    account = ForeignKeyField(Account, backref="sessions", on_delete="CASCADE")
    session_version = IntegerField()  # the account's at login: a newer password ends the session
    created_at = DateTimeField()
    seen_at = DateTimeField(index=True)  # the purge's idle sessions


class SchemaVersion(BaseModel):
    version = IntegerField()
    applied_at = DateTimeField(constraints=[SQL("DEFAULT CURRENT_TIMESTAMP")])


class OpsState(BaseModel):
    """A moment the whole deployment shares: `delivery` (heartbeat of the mail loop), `purge` (last run)."""

    name = CharField(max_length=32, primary_key=True)
    at = DateTimeField()

    class Meta:
        table_name = "ops_state"


ALL_MODELS = [
    Office,
    Account,
    OneTimeCode,
    OutboxMessage,
    AuditEvent,
    Hit,
    Notice,
    Article,
    LoginSession,
    SchemaVersion,
    OpsState,
]


def prepare_schema() -> bool:
    """Create an empty database's schema; refuse (migrations.SchemaMismatch) one the code does not match."""
    return migrations.prepare(database.obj)


def schema_problem() -> str | None:
    """Why the schema does not match this code (one line), or None."""
    return migrations.problem(database.obj)
