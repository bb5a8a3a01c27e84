"""Slots: a few threads at a time, and the others' database work committed with theirs."""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Iterator

import pytest

from bot.slots import Slots

from .helpers import held_by_another_thread, in_child


class Transactions:
    """A stand-in for `Store.together`: counts commits and rollbacks, yields a connection.
    `refuse`: the commit fails."""

    def __init__(self, refuse: bool = False) -> None:
        self.commits, self.rollbacks, self.refuse = 0, 0, refuse

    @contextlib.contextmanager
    def __call__(self) -> Iterator[object]:
        conn = object()
        try:
            yield conn
        except BaseException:
            self.rollbacks += 1
            raise
        if self.refuse:
            self.rollbacks += 1
            raise ConnectionError("commit refused")
        self.commits += 1


def queue_behind(slots: Slots, kind: str, works: list[Any], together: Any,
                 clean: tuple = ()) -> tuple[list[threading.Thread], dict[int, Any]]:
    """Hold the only slot while threads queue `works`; return the threads and their outcomes."""
    outcomes: dict[int, Any] = {}
    expected = len(slots._waiting) + len(works)

    def call(i: int, work: Any) -> None:
        try:
            outcomes[i] = slots.run(kind, work, together, clean)
        except Exception as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=call, args=(i, w), daemon=True)
               for i, w in enumerate(works)]
    for t in threads:
        t.start()
    deadline = time.time() + 5
    while len(slots._waiting) < expected and time.time() < deadline:
        time.sleep(0.005)
    assert len(slots._waiting) == expected, "the threads did not queue"
    return threads, outcomes


def test_with_a_slot_free_the_work_runs_alone_at_once():
    slots, together = Slots(2), Transactions()
    assert slots.run("turn", lambda conn: ("alone", conn), together) == ("alone", None)
    assert together.commits == 0


def test_work_queued_behind_a_busy_slot_is_committed_together_once():
    slots, together = Slots(1), Transactions()
    seen: list[Any] = []

    def work(n: int) -> Any:
        return lambda conn: seen.append(conn) or n * 10

    with slots:
        threads, outcomes = queue_behind(slots, "turn", [work(n) for n in range(5)], together)
    for t in threads:
        t.join(5)
    assert outcomes == {n: n * 10 for n in range(5)}  # each thread got its own result
    assert together.commits == 1 and slots.groups == 1
    assert len(set(map(id, seen))) == 1 and seen[0] is not None  # all on one connection


def test_one_members_error_rolls_the_group_back_and_the_others_go_in_alone():
    """A turn that fails in a group (its decision refused by the database, say) must not
    take the others' turns down with it, nor answer them twice: the group's transaction
    is rolled back as a whole, and every member runs again in its own."""
    slots, together = Slots(1), Transactions()
    runs: dict[int, list[Any]] = {n: [] for n in range(4)}

    def work(n: int) -> Any:
        def do(conn: Any) -> int:
            runs[n].append(conn)
            if n == 2:
                raise ValueError("refused")
            return n
        return do

    with slots:
        threads, outcomes = queue_behind(slots, "turn", [work(n) for n in range(4)], together)
    for t in threads:
        t.join(5)
    assert isinstance(outcomes.pop(2), ValueError)  # the error reached its own thread
    assert outcomes == {0: 0, 1: 1, 3: 3}
    assert together.rollbacks == 1 and together.commits == 0 and slots.failed == 1
    assert all(r[-1] is None for r in runs.values())  # each ran last alone, committing itself


def test_a_clean_error_leaves_the_rest_of_the_group_committed():
    """A finish whose lease was lost wrote nothing: the others' finishes still commit together."""
    class Lost(Exception):
        pass

    slots, together = Slots(1), Transactions()

    def work(n: int) -> Any:
        def do(conn: Any) -> int:
            if n == 1:
                raise Lost()
            return n
        return do

    with slots:
        threads, outcomes = queue_behind(slots, "finish", [work(n) for n in range(3)], together,
                                         clean=(Lost,))
    for t in threads:
        t.join(5)
    assert isinstance(outcomes.pop(1), Lost)
    assert outcomes == {0: 0, 2: 2}
    assert together.commits == 1 and together.rollbacks == 0


def test_kinds_are_not_mixed_and_without_a_transaction_each_runs_alone():
    slots, together = Slots(1), Transactions()
    conns: dict[str, list[Any]] = {"turn": [], "finish": []}

    def work(kind: str) -> Any:
        return lambda conn: conns[kind].append(conn)

    with slots:
        t1, _ = queue_behind(slots, "turn", [work("turn")] * 2, together)
        t2, _ = queue_behind(slots, "finish", [work("finish")] * 2, None)
    for t in t1 + t2:
        t.join(5)
    assert conns["finish"] == [None, None]  # no `together`: alone
    assert len(conns["turn"]) == 2 and conns["turn"][0] is conns["turn"][1] is not None


@pytest.mark.parametrize("n", [1, 3])
def test_many_threads_never_exceed_the_slots_and_all_get_their_own_result(n):
    slots, together = Slots(n), Transactions()
    inside, most, lock = [0], [0], threading.Lock()
    results: dict[int, Any] = {}

    def busy() -> None:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.0005)
        with lock:
            inside[0] -= 1

    def work(i: int) -> Any:
        def do(conn: Any) -> int:
            busy()
            return i * i
        return do

    def held(i: int) -> None:
        for round_ in range(20):
            if (i + round_) % 3 == 0:
                with slots:
                    busy()
            else:
                results[(i, round_)] = slots.run("turn", work(i * 100 + round_), together)

    threads = [threading.Thread(target=held, args=(i,), daemon=True) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a thread was never woken"
    assert most[0] <= n
    assert results == {k: (k[0] * 100 + k[1]) ** 2 for k in results}
    assert len(results) == sum(1 for i in range(24) for r in range(20) if (i + r) % 3)


def test_a_forked_child_has_every_slot_free_whatever_the_parents_threads_held():
    """`flask work` forks its processes from one that built the app: a slot a parent thread
    held at the fork (or a job queued) must not stay taken in the child for ever."""
    slots, together = Slots(1), Transactions()
    with held_by_another_thread(slots):
        assert in_child(lambda: b"1" if slots.run("turn", lambda c: 1, together) == 1
                        else b"0") == b"1"


def test_a_forked_childs_groups_commit_even_if_a_parent_thread_was_counting_one():
    """A parent thread that was counting its group (a moment's lock) at the fork must not
    leave that lock held in the child: the child's next group would hang after committing,
    and its members, webhooks already stored, would never be acknowledged."""
    slots, together = Slots(1), Transactions()

    def child() -> bytes:
        with slots:
            threads, outcomes = queue_behind(slots, "turn", [lambda c: 1, lambda c: 2],
                                             together)
        for t in threads:
            t.join(5)
        return b"1" if outcomes == {0: 1, 1: 2} and slots.groups == 1 else b"0"

    with held_by_another_thread(slots._counting):  # as a leader does after each commit
        assert in_child(child) == b"1"


def test_a_refused_commit_runs_every_member_again_alone():
    slots, together = Slots(1), Transactions(refuse=True)
    conns: list[Any] = []

    def work(n: int) -> Any:
        return lambda conn: conns.append(conn) or n

    with slots:
        threads, outcomes = queue_behind(slots, "turn", [work(n) for n in range(3)], together)
    for t in threads:
        t.join(5)
    assert outcomes == {0: 0, 1: 1, 2: 2}  # each went in alone, after the group's refusal
    assert conns.count(None) == 3 and together.rollbacks == 1 and slots.failed == 1


def test_an_interrupted_leader_never_hands_members_a_rolled_back_result():
    """A leader interrupted (KeyboardInterrupt, SystemExit) after some members' work ran in
    its transaction: that transaction was rolled back, so those members must hear of an
    error, never of a success that was not committed (a webhook acknowledged for an
    event never stored would be lost)."""
    class Stop(BaseException):
        pass

    slots, together = Slots(1), Transactions()
    outcomes: dict[int, Any] = {}

    def work(n: int) -> Any:
        def do(conn: Any) -> int:
            if n == 2 and conn is not None:
                raise Stop()
            return n
        return do

    def call(n: int) -> None:
        try:
            outcomes[n] = slots.run("turn", work(n), together)
        except BaseException as exc:
            outcomes[n] = exc

    threads = [threading.Thread(target=call, args=(n,), daemon=True) for n in range(4)]
    with slots:
        for t in threads:
            t.start()
        deadline = time.time() + 5
        while len(slots._waiting) < 4 and time.time() < deadline:
            time.sleep(0.005)
    for t in threads:
        t.join(5)
    assert len(outcomes) == 4 and together.commits == 0
    assert not any(isinstance(v, int) for v in outcomes.values()), outcomes
    assert sum(isinstance(v, Stop) for v in outcomes.values()) == 1  # the leader's own thread
    assert slots.run("turn", work(7), together) == 7  # and the slot was given back


def test_a_group_takes_at_most_group_limit_others():
    from bot.slots import GROUP_LIMIT

    slots, together = Slots(1), Transactions()
    with slots:
        threads, outcomes = queue_behind(slots, "turn", [lambda conn: 1] * (GROUP_LIMIT + 3),
                                         together)
    for t in threads:
        t.join(5)
    assert len(outcomes) == GROUP_LIMIT + 3 and set(outcomes.values()) == {1}
    assert together.commits == 2  # GROUP_LIMIT + 1, then the other 2


def test_a_thread_interrupted_while_waiting_leaves_no_slot_taken():
    """A thread interrupted while it waits for a slot (KeyboardInterrupt in the main
    thread) must leave the queue: a slot handed on to it later would never be given back,
    and with the webhook's single slot every later webhook would wait for ever."""
    from bot.slots import _Job

    class Interrupted(BaseException):
        pass

    class Interrupting:
        def acquire(self) -> None:
            raise Interrupted()

    slots = Slots(1)
    job = _Job("turn", lambda conn: 1)
    job.wake = Interrupting()  # type: ignore[assignment]
    with slots:
        with pytest.raises(Interrupted):
            slots._enter(job)
    done: list[int] = []
    t = threading.Thread(target=lambda: done.append(slots.run("turn", lambda conn: 2, None)),
                         daemon=True)
    t.start()
    t.join(5)
    assert done == [2], "the slot went to the interrupted thread and never came back"
