"""Moving a deployment to another database (SQLite to PostgreSQL): every row, with its id, in one transaction."""

from __future__ import annotations

from peewee import sort_models

import db
import models

BATCH = 1000


class MoveRefused(Exception):
    """The target cannot take the copy (it already holds accounts); nothing was written."""


def move(source, target_url: str) -> dict[str, int]:
    """Copy every table of *source* (its schema current) into the database at *target_url*; rows per table.

    The target's schema is made as a server starting on it makes it. The copy is one transaction: it lands whole
    or not at all, and a target that already holds accounts (or a schema other than this code's) is refused.
    """
    target = db.open_database(target_url)
    try:
        with _bound_to(target):
            models.prepare_schema()
            with target.atomic():
                if models.Account.select().exists():
                    raise MoveRefused("the target database already holds accounts")
                ordered = sort_models(models.ALL_MODELS)
                for model in reversed(ordered):  # what the schema step recorded makes way for the copy
                    model.delete().execute()
                copied = {model._meta.table_name: _copy_rows(model, source) for model in ordered}
                db.reset_sequences(target, ordered)
        return copied
    finally:
        db.close_all(target)


def _copy_rows(model, source) -> int:
    """Rows in id order, in batches; references to the same table are set once every row is there."""
    self_references = [f for f in model._meta.refs if f.rel_model is model]
    deferred, count, batch = [], 0, []
    for row in model.select().order_by(model._meta.primary_key).dicts().bind(source).iterator():
        for field in self_references:
            if row[field.name] is not None:
                deferred.append((row[model._meta.primary_key.name], field, row[field.name]))
                row[field.name] = None
        batch.append(row)
        if len(batch) == BATCH:
            count += _insert(model, batch)
    count += _insert(model, batch)
    for row_id, field, value in deferred:
        model.update({field: value}).where(model._meta.primary_key == row_id).execute()
    return count


def _insert(model, batch) -> int:
    if batch:
        model.insert_many(batch).execute()
    size = len(batch)
    batch.clear()
    return size


class _bound_to:
    """Point the models at *target* for the copy's writes (the command does nothing else meanwhile)."""

    def __init__(self, target):
        self.target = target

    def __enter__(self):
        self.previous = models.database.obj
        models.database.initialize(self.target)

    def __exit__(self, *_exc):
        models.database.initialize(self.previous)
