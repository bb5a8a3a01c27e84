"""Handoffs and transcripts, on SQLite and PostgreSQL alike."""
from __future__ import annotations

import time

from bot.store import Store


def test_queue_is_by_priority_then_waiting_time(database):
    handoffs = Store(database).handoffs
    t = time.time()
    early, _ = handoffs.request("line:Ua", 0, now=t - 600)
    crisis, _ = handoffs.request("line:Ub", 2, now=t - 60)
    later, _ = handoffs.request("line:Uc", 0, now=t - 300)
    danger, _ = handoffs.request("line:Ud", 1, now=t - 30)
    handoffs.claim(later.id, "alice")
    assert [h.id for h in handoffs.queue()] == [crisis.id, danger.id, early.id, later.id]
    assert handoffs.ahead_of(handoffs.get(early.id)) == 2
    handoffs.raise_priority(early.id, 2)
    handoffs.raise_priority(crisis.id, 1)  # never lowered
    assert [h.id for h in handoffs.queue()][:2] == [early.id, crisis.id]


def test_one_open_request_per_conversation(database):
    handoffs = Store(database).handoffs
    first, new = handoffs.request("line:Ua", 0)
    again, new_again = handoffs.request("line:Ua", 2)
    assert new and not new_again and again.id == first.id
    assert handoffs.end(first.id, "cancelled", "person") and not handoffs.end(first.id, "closed", "x")
    third, new_third = handoffs.request("line:Ua", 0)
    assert new_third and third.id != first.id


def test_transcript_keeps_order_and_is_purged_after_retention(database):
    handoffs = Store(database).handoffs
    now = time.time()
    old = handoffs.record("line:Ua", "in", "むかしの相談", now - 40 * 86400)
    handoffs.record("line:Ua", "bot", "こんにちは", now)
    line = handoffs.record("line:Ua", "staff", "スタッフです", now, operator="alice",
                           status="pending", retry_key="k")
    handoffs.mark(line, "failed", "Messaging API 500")
    assert [l.text for l in handoffs.transcript("line:Ua")] == ["むかしの相談", "こんにちは", "スタッフです"]
    assert handoffs.line(line).status == "failed"
    assert [l.id for l in handoffs.transcript("line:Ua", after=old)][0] != old
    assert handoffs.purge(before=now - 30 * 86400) == 1
    assert [l.text for l in handoffs.transcript("line:Ua")] == ["こんにちは", "スタッフです"]


def test_forget_deletes_transcript_and_handoffs_and_unlinks_the_audit(database):
    store = Store(database)
    h, _ = store.handoffs.request("line:Ua", 0)
    store.handoffs.record("line:Ua", "in", "消してほしい話", time.time(), handoff_id=h.id)
    store.handoffs.audit("alice", "viewed", "line:Ua", h.id)
    store.forget("line:Ua")
    store.handoffs.pseudonymize("line:Ua", "deleted:abc")
    assert store.handoffs.transcript("line:Ua") == [] and store.handoffs.open_for("line:Ua") is None
    assert [r.conv_key for r in store.handoffs.audit_log()] == ["deleted:abc"]


def test_failed_logins_are_counted_by_name_and_address(database):
    operators = Store(database).operators
    for _ in range(3):
        operators.failed("alice", "10.0.0.1")
    assert len(operators.failures("alice", "10.0.0.1", 60)) == 3
    assert operators.failures("alice", "10.9.9.9", 60) == []  # elsewhere: not counted
    assert operators.failures("bob", "10.0.0.1", 60) == []
    assert operators.address_failures("10.0.0.1", 60) == 3


def test_waiting_counts_only_requests_not_yet_claimed(database):
    handoffs = Store(database).handoffs
    a, _ = handoffs.request("line:Ua", 0)
    handoffs.request("line:Ub", 2)
    assert handoffs.waiting() == 2
    handoffs.claim(a.id, "alice")
    assert handoffs.waiting() == 1
