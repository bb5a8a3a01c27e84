"""Every query a handled event runs finds its rows through an index, on both databases.

The queries are not listed here: the test records what the app really runs for
a person's first messages (the webhook, the dispatcher, the engine's decision,
the transcript) and asks the database for the plan of each. A query changed or
added in `bot/store/` is checked without editing this file; a query that must
read a whole table goes in ALLOWED_SCANS, with the reason.
"""
from __future__ import annotations

from tests.conftest import SECRET
from tests.line_fake import REPLY, LineUser

from .plans import explain, full_scans, recording, shorten, tables_of

# Statement fragment -> why reading the whole table is fine there.
ALLOWED_SCANS: dict[str, str] = {
    # Chores, at most once a minute per process, not per event; both tables stay small
    # (a row per request for staff, per console login).
    "DELETE FROM handoffs WHERE": "retention purge of ended handoffs",
    "DELETE FROM console_sessions WHERE": "expiry of console sessions",
    # Each dispatcher pass looks for due calls; the outbox is emptied as calls are made,
    # so it holds a few rows (SQLite walks it in id order instead of using ix_outbox_due).
    "FROM outbox WHERE outbox.next_try_at <=": "the outbox queue, near empty",
}
# The tables every handled event touches: the recording must have seen them.
HOT_TABLES = {"inbox", "conversations", "messages", "handoffs"}


def _handle_messages(app, line_api) -> dict:
    store = app.extensions["bot"].store
    user = LineUser(app.test_client(), SECRET)
    with recording(store.engine) as recorder:
        for n, event in enumerate((user.follow(), user.text("自分"), user.text("つきまとい")), 1):
            assert user.post(event).status_code == 200
            line_api.wait_for(REPLY, n)
    return recorder.seen


def test_every_query_of_a_handled_event_uses_an_index(database, make_app, line_api):
    app = make_app(DATABASE_URL=database)
    seen = _handle_messages(app, line_api)
    engine = app.extensions["bot"].store.engine
    assert HOT_TABLES <= set().union(*map(tables_of, seen)), list(seen)
    scans = {}
    for statement, parameters in seen.items():
        plan = explain(engine, statement, parameters, prefer_indexes=True)
        found = full_scans(engine.dialect.name, plan)
        one_line = " ".join(statement.split())
        if found and not any(fragment in one_line for fragment in ALLOWED_SCANS):
            scans[shorten(statement)] = found
    assert scans == {}, "queries reading a whole table:\n" + "\n".join(
        f"{s}\n    {plan}" for s, plan in scans.items())


def test_a_table_scan_is_recognised_on_both_databases(database, make_app):
    """The check itself: a query by an unindexed column is reported as a full scan."""
    engine = make_app(DATABASE_URL=database).extensions["bot"].store.engine
    statement = "SELECT id FROM messages WHERE text = 'x'"
    assert full_scans(engine.dialect.name, explain(engine, statement, {}, prefer_indexes=True))
    indexed = "SELECT id FROM messages WHERE conv_key = 'line:U1' ORDER BY id"
    assert not full_scans(engine.dialect.name, explain(engine, indexed, {}, prefer_indexes=True))


def test_the_purge_of_old_events_reads_only_old_rows_of_a_large_inbox(database, make_app):
    """Each worker purges finished events once a minute; the planner must not scan them all.

    With status alone (not selective: nearly every row is done) PostgreSQL chose a
    full scan of a 600,000-row inbox; the arrival-time index lets it read the old
    rows only. Planned here without forcing, on 20,000 rows with fresh statistics.
    """
    import time

    from sqlalchemy import text

    store = make_app(DATABASE_URL=database).extensions["bot"].store
    engine, now = store.engine, time.time()
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO inbox (event_id, conv_key, ts_ms, received_at, status, attempts, "
            "next_try_at, sent_batches, safety, alerted) "
            "SELECT 'purge-' || n, 'line:U' || (n % 500), n, :now - n, 'done', 1, 0, 1, "
            "false, false FROM (WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 "
            "FROM s WHERE n < 20000) SELECT n FROM s) AS numbers"), {"now": now})
        conn.execute(text("ANALYZE"))  # fresh statistics, as autovacuum would have them
    seen = {}
    with recording(engine) as recorder:
        store.purge_inbox(now - 20000 + 100)  # the oldest hundred
        seen = recorder.seen
    [(statement, parameters)] = [(s, p) for s, p in seen.items() if "DELETE FROM inbox" in s]
    plan = explain(engine, statement, parameters, prefer_indexes=False)
    assert not full_scans(engine.dialect.name, plan), plan
    assert "ix_inbox_received" in " ".join(plan), plan
