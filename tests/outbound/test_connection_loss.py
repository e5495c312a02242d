"""A real lost connection (the backend is terminated, as in a Postgres restart) between the
provider's answer and the outcome write: the write reconnects and the outcome is kept."""

from __future__ import annotations

import pytest
from django.db import OperationalError

from outbound import delivery
from tests.database import terminate_our_backend


@pytest.mark.django_db(transaction=True)  # a transaction of the test itself could not survive it
def test_the_outcome_is_written_over_a_new_connection_after_the_old_one_dropped(subject, monkeypatch):
    row = subject.queue()
    real = type(subject.box).success

    def success_then_drop(box, row, result):
        terminate_our_backend()
        return real(box, row, result)

    monkeypatch.setattr(type(subject.box), "success", success_then_drop)

    subject.attempt(row)

    row.refresh_from_db()
    assert row.remote_id and subject.posted() == 1


@pytest.mark.django_db(transaction=True)
def test_a_database_that_cannot_be_read_postpones_the_attempt(subject, monkeypatch):
    row = subject.queue()

    def unreadable(box):
        raise OperationalError("the database system is starting up")

    monkeypatch.setattr(type(subject.box), "rows", unreadable)

    outcome = subject.attempt(row)

    assert outcome.retry_in == delivery.DATABASE_DOWN_RETRY_IN and subject.posted() == 0
