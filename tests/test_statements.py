"""db.Statement: a query's SQL text built once per kind of database, run again with other values, on both."""

from datetime import datetime

import pytest

import db
from models import Hit, database


def test_a_statement_runs_again_with_other_values(app):
    insert = db.Statement(lambda key, at: Hit.insert(key=key, at=at))
    count = db.Statement(lambda key: Hit.select(Hit.id).where(Hit.key == key))
    with app.app_context():
        first = db.inserted_id(database, insert.run(database, "a", datetime(2026, 1, 1)))
        second = db.inserted_id(database, insert.run(database, "b", datetime(2026, 1, 2)))
        assert second > first
        assert count.run(database, "a").fetchall() == [(first,)]
        assert count.run(database, "b").fetchall() == [(second,)]
        stored = Hit.get_by_id(second)
        assert (stored.key, stored.at) == ("b", datetime(2026, 1, 2))  # what peewee itself would have written


def test_a_query_whose_values_do_not_become_its_parameters_is_refused(app):
    constant = db.Statement(lambda key: Hit.select(Hit.id).where(Hit.key == "fixed"))
    with app.app_context(), pytest.raises(ValueError, match="not the values"):
        constant.run(database, "a")
